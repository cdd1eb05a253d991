#!/bin/sh
# Renders the CPLDS RabbitMQ definition templates of this directory into OUT_DIR, as files that
# the broker imports in name order: at boot (rabbitmq.conf: definitions.local.path = OUT_DIR) or
# one by one with `rabbitmqctl import_definitions /abs/path/file.json`.
#
#   render.sh academy  OUT_DIR    # an académie broker
#   render.sh national OUT_DIR    # the national broker
#
# Input, from the environment (any VAR may instead be given as VAR_FILE=/path, whose content is
# read: Compose and Kubernetes secrets are files):
#   VHOST, APP_USER, FEDERATION_USER     both kinds (see README.md); two different prefixes.
#                                        academy: users APP_USER-SERVICE (one per service) and
#                                        FEDERATION_USER-national, FEDERATION_USER-PEER (one per
#                                        downstream link); national: user APP_USER (the node)
#                                        and FEDERATION_USER-ACADEMY (one per académie's link)
#   ACADEMY, NATIONAL_URI                academy only
#   UPSTREAMS_FILE                       lines "NAME URI" ('#' comments and blank lines skipped):
#                                        academy: the other académies of the région (may be
#                                        absent or empty); national: every académie
#   USERS_FILE                           optional; lines "NAME PASSWORD": one 00-user-NAME.json
#                                        each (the users must exist before the permissions)
#
# Output: 00-user-NAME.json per user, 10-academy.json or 10-national.json, and per upstream
# NAME a 20-upstream-NAME.json (this broker's link to it) and a 30-downstream-NAME.json (what
# its link to this broker may read). Substitution is literal: values must not contain '"', '\'
# or a newline (the script refuses them). POSIX sh and sed only (it runs in a busybox container).
set -eu

here=$(cd "$(dirname "$0")" && pwd)

die() {
  echo "render.sh: $*" >&2
  exit 1
}

[ $# -eq 2 ] || die "usage: render.sh academy|national OUT_DIR"
kind=$1
out=$2
case $kind in
  academy | national) ;;
  *) die "unknown kind '$kind' (academy or national)" ;;
esac

nl='
'

# load NAME [optional]: sets v_NAME from $NAME or from the file named by $NAME_FILE.
load() {
  eval "val=\${$1-}"
  eval "file=\${$1_FILE-}"
  if [ -z "$val" ] && [ -n "$file" ]; then
    [ -r "$file" ] || die "$1_FILE=$file cannot be read"
    val=$(cat "$file")
  fi
  if [ -z "$val" ] && [ "${2-}" != optional ]; then
    die "$1 (or $1_FILE) is required for '$kind'"
  fi
  case $val in
    *'"'* | *'\'* | *"$nl"*) die "$1 must not contain '\"', '\\' or a newline" ;;
  esac
  eval "v_$1=\$val"
}

# render TEMPLATE OUT NAME...: replaces each ${NAME} by $v_NAME.
render() {
  tpl=$1
  dest=$2
  shift 2
  script=
  for ph in "$@"; do
    eval "val=\$v_$ph"
    esc=$(printf '%s' "$val" | sed -e 's/[&|]/\\&/g')
    script="$script
s|\\\${$ph}|$esc|g"
  done
  sed -e "$script" "$here/$tpl" >"$dest.tmp"
  if grep -q '\${' "$dest.tmp"; then
    rm -f "$dest.tmp"
    die "$tpl: a placeholder was left unrendered"
  fi
  mv "$dest.tmp" "$dest"
}

check_name() {
  case $1 in
    '' | *[!a-z0-9_-]*) die "upstream name '$1' must be lowercase letters, digits, '-' or '_'" ;;
  esac
}

load VHOST
load APP_USER
load FEDERATION_USER
# RabbitMQ keeps one permission entry per user and vhost: one user in both roles would get one
# of the two entries, at random.
[ "$v_FEDERATION_USER" != "$v_APP_USER" ] || die "FEDERATION_USER must differ from APP_USER"
users=
if [ -n "${USERS_FILE-}" ]; then
  [ -r "$USERS_FILE" ] || die "USERS_FILE=$USERS_FILE cannot be read"
  users=$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$USERS_FILE" || true)
fi
if [ "$kind" = academy ]; then
  load ACADEMY
  load NATIONAL_URI
fi

upstreams=
if [ -n "${UPSTREAMS_FILE-}" ]; then
  [ -r "$UPSTREAMS_FILE" ] || die "UPSTREAMS_FILE=$UPSTREAMS_FILE cannot be read"
  upstreams=$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$UPSTREAMS_FILE" || true)
fi
if [ "$kind" = national ] && [ -z "$upstreams" ]; then
  die "UPSTREAMS_FILE must list the académies (lines 'NAME URI') for the national broker"
fi

mkdir -p "$out"
umask 077

if [ -n "$users" ]; then
  while read -r name password rest; do
    [ -n "$password" ] && [ -z "$rest" ] || die "USERS_FILE: expected 'NAME PASSWORD' for '$name'"
    USER_NAME=$name
    USER_PASSWORD=$password
    load USER_NAME
    load USER_PASSWORD
    render user.definitions.json "$out/00-user-$name.json" USER_NAME USER_PASSWORD
  done <<EOF
$users
EOF
fi

if [ "$kind" = academy ]; then
  downstream=regional-downstream.definitions.json
else
  downstream=national-downstream.definitions.json
fi

# One 20-upstream-NAME.json per line, and the regional upstream set's items.
v_REGIONAL_UPSTREAM_SET=
if [ -n "$upstreams" ]; then
  while read -r name uri rest; do
    check_name "$name"
    [ -n "$uri" ] && [ -z "$rest" ] || die "UPSTREAMS_FILE: expected 'NAME URI', got '$name $uri $rest'"
    v_UPSTREAM_NAME=$name
    UPSTREAM_URI=$uri
    load UPSTREAM_URI
    render upstream.definitions.json "$out/20-upstream-$name.json" VHOST UPSTREAM_NAME UPSTREAM_URI
    v_DOWNSTREAM=$name
    render "$downstream" "$out/30-downstream-$name.json" VHOST FEDERATION_USER DOWNSTREAM
    item=$(sed -e "s|\${UPSTREAM_NAME}|$name|g" "$here/regional-set-item.json")
    v_REGIONAL_UPSTREAM_SET=${v_REGIONAL_UPSTREAM_SET:+$v_REGIONAL_UPSTREAM_SET,}$item
  done <<EOF
$upstreams
EOF
fi

if [ "$kind" = academy ]; then
  render academy.definitions.json "$out/10-academy.json" \
    VHOST ACADEMY APP_USER FEDERATION_USER NATIONAL_URI REGIONAL_UPSTREAM_SET
else
  render national.definitions.json "$out/10-national.json" VHOST APP_USER FEDERATION_USER
fi

echo "render.sh: wrote $(ls "$out" | tr '\n' ' ')to $out" >&2
