"""The labbook server: a REST API (read and write) over a labbook home or a team catalog.

``labbook server`` runs it on uvicorn; ``labbook ui`` runs it for one user on 127.0.0.1.
``create_app()`` builds the FastAPI application from the settings (``labbook.config``)::

    from labbook.server.app import create_app
    app = create_app()          # the same one ``labbook server`` serves

Layout: ``data`` is the only module that calls the library; ``auth`` checks tokens and scopes;
``guards`` holds the request-level protections (Host, body size, headers); ``errors`` turns
every failure into one JSON shape; ``routes_*`` declare the endpoints and their scopes.
See docs/server.md.
"""
