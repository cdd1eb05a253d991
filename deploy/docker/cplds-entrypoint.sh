#!/bin/sh
# Entrypoint of the cplds image. Compose secrets are files, while the database and broker URLs
# (which hold passwords) are configuration values: for every variable FILE__<NAME>=/path, this
# exports <NAME> with the file's content (trailing newlines dropped), e.g.
#   FILE__CPLDS_DATABASE_URL=/run/secrets/database_url  ->  CPLDS_DATABASE_URL=postgres://...
# then runs cplds with the given arguments. Kubernetes sets such variables from Secrets itself.
set -eu
for name in $(env | sed -n 's/^FILE__\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
  eval "path=\${FILE__$name}"
  if [ ! -r "$path" ]; then
    echo "cplds-entrypoint: FILE__$name=$path cannot be read" >&2
    exit 1
  fi
  value=$(cat "$path")
  export "$name=$value"
  unset "FILE__$name"
done
exec /usr/local/bin/cplds "$@"
