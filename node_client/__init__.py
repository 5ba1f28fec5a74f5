"""hubnet node side: the node agent and the CNI plugin. Never imports server, FastAPI or SQLAlchemy."""
