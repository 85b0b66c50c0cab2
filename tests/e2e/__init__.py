"""End-to-end tests: Dimini in real pods behind the Traefik Ingress, reached over HTTP only."""
