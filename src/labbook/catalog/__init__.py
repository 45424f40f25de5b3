"""The queryable index of projects, runs, params, metric summaries and tags (SQLAlchemy)."""
