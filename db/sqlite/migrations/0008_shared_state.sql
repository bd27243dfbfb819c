-- Placeholder: number 8 is taken by the shared-state migration (job images, process leases), which lands
-- separately and replaces this file.
SELECT 1;
