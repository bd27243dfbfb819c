"""The PostgreSQL job store (``DATABASE_URL=postgresql://…``), on asyncpg."""
