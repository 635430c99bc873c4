"""The data layer below jobs and portal: the SQLAlchemy handle, the models and their column types."""
