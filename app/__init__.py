"""The web application (Flask) for members, alliance leads and operators."""
