"""`python -m images.traefik`: build localhost/dimini/traefik:<version> with buildah; print it."""

from images.traefik import build

print(build())
