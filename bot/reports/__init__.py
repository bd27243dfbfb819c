"""Reports drawn for admins (charts); the drawing library is imported only when a chart is drawn."""
