# sessiond in an image built FROM scratch: the image holds only a
# statically linked binary, built on the host first (no Go image is pulled):
#
#   CGO_ENABLED=0 go build -o bin/sessiond-static ./cmd/sessiond
#   docker build -t sessiond:local .        # or: make image
#
# .dockerignore keeps the build context to that binary. The image has no
# shell, no /tmp and no CA certificates; sessiond needs none of them (it
# writes only under --dir, speaks plain TCP, and logs in UTC).
#
# Defaults: listen on 0.0.0.0:6379, Raft on 16379, data in the /data
# volume, running as the unprivileged user 65532. Arguments after the
# image name are appended and override the defaults (the last flag wins):
#
#   docker run -d -p 127.0.0.1:6379:6379 sessiond:local
#   docker run sessiond:local --node-id n1 --peers n1=10.0.0.1:16379,... \
#       --announce-ip 10.0.0.1 --cluster-enabled yes
#
# In a container set --announce-ip to the address clients and the other
# nodes reach this one at: it is what CLUSTER SLOTS/NODES and -MOVED show.
FROM scratch

# tests/docker/ reaches the context empty (.dockerignore); copying it
# creates /data owned by 65532, and a named volume mounted there inherits
# that owner. (WORKDIR would create it owned by root.)
COPY --chown=65532:65532 tests/docker/ /data/
COPY bin/sessiond-static /sessiond

USER 65532:65532
VOLUME /data
EXPOSE 6379 16379
ENTRYPOINT ["/sessiond", "--bind", "0.0.0.0", "--port", "6379", "--raft-port", "16379", "--dir", "/data"]
