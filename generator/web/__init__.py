"""The agent portal: a FastAPI app (``create_app``) over the service API, the store and a background job worker."""
