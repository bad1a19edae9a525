"""The dashboard shell: pages, templates and vendored static assets."""
