"""hubnet node side: the node agent and the CNI plugin. Never imports hubnet.server, FastAPI or SQLAlchemy."""
