#!/usr/bin/env bash
# fleetprof-agent on a Cloud TPU VM: installs the agent and its systemd unit,
# writes its options from the VM's instance metadata, and (re)starts it.
# Idempotent: it runs at every boot and may be re-run by hand
# (sudo google_metadata_script_runner startup, or sudo bash startup.sh).
#
#   echo "/opt/sglang-jax/.venv/bin/python -m sgl_jax.launch_server --model-path Qwen/Qwen3-0.6B --port 30000" > server-cmd.txt
#   gcloud compute tpus tpu-vm create my-tpu --zone us-east5-b \
#     --accelerator-type v6e-1 --version v6e-ubuntu-2404 \
#     --metadata-from-file startup-script=deploy/tpu-vm/startup.sh,fleetprof-server-cmd=server-cmd.txt \
#     --metadata "fleetprof-agent-url=gs://my-bucket/fleetprof/fleetprof-agent,fleetprof-agent-sha256=$(sha256sum bin/fleetprof-agent | cut -d' ' -f1),fleetprof-collector=collector.example.internal:7070,fleetprof-id=my-tpu,fleetprof-labels=model=qwen3-0.6b;team=serving,fleetprof-tls-secret=fleetprof-agent-my-tpu"
# (docs/operators.md walks through it, including the certificates.)
#
# Instance metadata it reads (attributes):
#   fleetprof-agent-url      required: where the agent binary is: gs://..., https://... or file:///...
#   fleetprof-agent-sha256   required: its sha256 (hex); the script refuses any other binary
#   fleetprof-collector      required: the collector's gRPC address HOST:PORT
#   fleetprof-id             the agent id (default: the VM's host name); under mTLS
#                            it must be the id in the agent's certificate
#   fleetprof-labels         labels as k=v separated by ';' or ',' (model=qwen3;team=serving)
#   fleetprof-server-cmd     the model server's command line, wrapped by the agent
#                            (--wrap --); no argument may contain a space
#   fleetprof-attach         or: the URL of a model server started another way
#   fleetprof-tls-secret     Secret Manager prefix: <prefix>-cert, <prefix>-key and
#                            <prefix>-ca hold the agent's certificate, key and the CA
#                            (the VM's service account needs secretmanager.secretAccessor).
#                            Without it, files already in /etc/fleetprof/tls/ are used.
#   fleetprof-agent-config   the whole policy file (YAML, see deploy/config/agent.yaml)
#   fleetprof-agent-flags    more agent flags, space-separated (e.g. --keep-raw)
#
# Files it writes: /usr/local/bin/fleetprof-agent,
# /etc/systemd/system/fleetprof-agent.service, /usr/lib/sysusers.d/fleetprof.conf,
# /etc/fleetprof/agent.env, /etc/fleetprof/agent.yaml, /etc/fleetprof/tls/*.
#
# For tests: FLEETPROF_ROOT=DIR installs under DIR and skips users, device
# groups and systemctl; FLEETPROF_METADATA_URL replaces the metadata server.
set -euo pipefail

root="${FLEETPROF_ROOT:-}"
md_url="${FLEETPROF_METADATA_URL:-http://metadata.google.internal/computeMetadata/v1}"

log() { echo "fleetprof-startup: $*" >&2; }
die() { log "error: $*"; exit 1; }

# md KEY prints an instance attribute, or nothing when it is not set.
md() {
  curl -fsS --retry 3 --connect-timeout 5 -H 'Metadata-Flavor: Google' \
    "$md_url/instance/attributes/$1" 2>/dev/null || true
}

# fetch URL DEST downloads URL to DEST.
fetch() {
  case "$1" in
    gs://*) gcloud storage cp --quiet "$1" "$2" ;;
    http://* | https://*) curl -fsSL --retry 5 --connect-timeout 10 -o "$2" "$1" ;;
    file://*) cp "${1#file://}" "$2" ;;
    *) die "fleetprof-agent-url $1: want gs://, https:// or file://" ;;
  esac
}

# secret NAME prints the latest version of a Secret Manager secret.
secret() {
  gcloud secrets versions access latest --secret "$1" ||
    die "read secret $1: does it exist, and may the VM's service account access it?"
}

url="$(md fleetprof-agent-url)"
want_sum="$(md fleetprof-agent-sha256)"
collector="$(md fleetprof-collector)"
[ -n "$url" ] || die "instance metadata fleetprof-agent-url is not set"
[ -n "$want_sum" ] || die "instance metadata fleetprof-agent-sha256 is not set"
[ -n "$collector" ] || die "instance metadata fleetprof-collector is not set (HOST:PORT)"

bin="$root/usr/local/bin/fleetprof-agent"
unit="$root/etc/systemd/system/fleetprof-agent.service"
sysusers="$root/usr/lib/sysusers.d/fleetprof.conf"
etc="$root/etc/fleetprof"
mkdir -p "$(dirname "$bin")" "$(dirname "$unit")" "$(dirname "$sysusers")" "$etc/tls"

# The fleetprof user (deploy/systemd/fleetprof.sysusers).
cat > "$sysusers" <<'SYSUSERS'
u fleetprof - "fleetprof profiler" - /usr/sbin/nologin
SYSUSERS
if [ -z "$root" ]; then
  systemd-sysusers "$sysusers"
  # The wrapped model server runs as fleetprof and needs the TPU device
  # nodes: join the group that owns them when they are not open to all.
  for dev in /dev/vfio/[0-9]* /dev/accel*; do
    [ -e "$dev" ] || continue
    mode="$(stat -c %a "$dev")" group="$(stat -c %G "$dev")"
    case "$mode" in *6) continue ;; esac
    if [ "$group" != root ]; then
      usermod -a -G "$group" fleetprof
    else
      log "warning: $dev is $mode root:root; the model server (user fleetprof) may not open it"
    fi
  done
fi

# The agent binary, only when it changed; never one with another checksum.
have_sum=""
[ -x "$bin" ] && have_sum="$(sha256sum "$bin" | cut -d' ' -f1)"
if [ "$have_sum" != "$want_sum" ]; then
  tmp="$(mktemp "$bin.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  fetch "$url" "$tmp"
  got="$(sha256sum "$tmp" | cut -d' ' -f1)"
  [ "$got" = "$want_sum" ] || die "$url has sha256 $got, metadata fleetprof-agent-sha256 says $want_sum"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$bin"
  trap - EXIT
  log "installed $bin ($want_sum)"
fi

# The unit (deploy/systemd/fleetprof-agent.service, kept equal by a test).
cat > "$unit" <<'UNIT'
# fleetprof-agent: profiles the model server on this TPU VM for the fleet's
# collector. Install (docs/operators.md, or deploy/tpu-vm/startup.sh does it):
#   install -m 0755 fleetprof-agent /usr/local/bin/
#   install -m 0644 fleetprof.sysusers /usr/lib/sysusers.d/fleetprof.conf && systemd-sysusers
#   install -m 0644 fleetprof-agent.service /etc/systemd/system/
#   install -m 0640 -g fleetprof agent.env /etc/fleetprof/agent.env   # then edit it
#   systemctl daemon-reload && systemctl enable --now fleetprof-agent
#
# With --wrap the model server (python -m sgl_jax.launch_server ...) runs as a
# child of the agent, so it inherits this unit's user and sandbox: its Python
# environment must live outside /home and /root (e.g. /opt/sglang-jax), and it
# writes only under /var/lib/fleetprof-agent (HF_HOME is set there below) and
# its private /tmp. Loosen one setting with a drop-in
# (systemctl edit fleetprof-agent) rather than editing this file.
[Unit]
Description=fleetprof agent (profiles the local model server for the fleet collector)
Documentation=https://github.com/fleetprof/fleetprof/blob/main/docs/operators.md
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
User=fleetprof
Group=fleetprof
# FLEETPROF_AGENT_OPTS: --collector, --id, --label, TLS flags and, last,
# --wrap -- CMD ARGS... or --attach URL. See agent.env.
EnvironmentFile=/etc/fleetprof/agent.env
ExecStart=/usr/local/bin/fleetprof-agent --work-dir /var/lib/fleetprof-agent --spool /var/lib/fleetprof-agent/spool --http 127.0.0.1:7072 $FLEETPROF_AGENT_OPTS
# The agent forwards SIGTERM to the wrapped server and kills its process group
# after --grace (30s); give it that long plus the final upload attempt.
KillMode=mixed
TimeoutStopSec=60
Restart=on-failure
RestartSec=5s
LimitNOFILE=65536
# The TPU runtime pins host memory for DMA (vfio): no memlock limit.
LimitMEMLOCK=infinity

# /var/lib/fleetprof-agent: spool, raw profiler output (raw/<capture id>/),
# and the model server's caches.
StateDirectory=fleetprof-agent
StateDirectoryMode=0750
ReadWritePaths=/var/lib/fleetprof-agent
Environment=HF_HOME=/var/lib/fleetprof-agent/huggingface
UMask=0027

# Hardening. Not set, on purpose: PrivateDevices and ProtectClock (the first
# hides device nodes, the second adds a device allowlist that closes them: the
# server needs the TPU's /dev/vfio/* or /dev/accel*), MemoryDenyWriteExecute
# (JAX and Python JIT code), SystemCallFilter (libtpu's needs are not documented).
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
UNIT

# TLS material.
tls_secret="$(md fleetprof-tls-secret)"
if [ -n "$tls_secret" ]; then
  umask 027
  secret "$tls_secret-cert" > "$etc/tls/agent.pem"
  secret "$tls_secret-key" > "$etc/tls/agent-key.pem"
  secret "$tls_secret-ca" > "$etc/tls/ca.pem"
  umask 022
fi

opts=(--collector "$collector" --config /etc/fleetprof/agent.yaml)
id="$(md fleetprof-id)"
[ -n "$id" ] && opts+=(--id "$id")
labels="$(md fleetprof-labels)"
for kv in ${labels//[;,]/ }; do
  case "$kv" in *=*) opts+=(--label "$kv") ;; *) die "fleetprof-labels: $kv is not k=v" ;; esac
done
if [ -f "$etc/tls/agent.pem" ]; then
  opts+=(--tls-cert /etc/fleetprof/tls/agent.pem --tls-key /etc/fleetprof/tls/agent-key.pem)
  [ -f "$etc/tls/ca.pem" ] && opts+=(--tls-ca /etc/fleetprof/tls/ca.pem)
else
  case "$collector" in
    127.0.0.1:* | localhost:* | "[::1]:"*) opts+=(--insecure) ;;
    *) log "warning: no client certificate in /etc/fleetprof/tls: the collector must not require mTLS" ;;
  esac
fi
# shellcheck disable=SC2206 # word splitting is wanted: flags are space-separated
extra=($(md fleetprof-agent-flags))
opts+=("${extra[@]}")
server_cmd="$(md fleetprof-server-cmd)"
attach="$(md fleetprof-attach)"
if [ -n "$server_cmd" ]; then
  case "$server_cmd" in /home/* | /root/*)
    log "warning: the unit has ProtectHome=yes: install the server outside /home (e.g. /opt/sglang-jax)" ;;
  esac
  [ -n "$attach" ] && opts+=(--attach "$attach")
  # shellcheck disable=SC2206
  opts+=(--wrap -- $server_cmd)
elif [ -n "$attach" ]; then
  opts+=(--attach "$attach")
else
  die "set instance metadata fleetprof-server-cmd (the agent starts the server) or fleetprof-attach (URL)"
fi
for o in "${opts[@]}"; do
  case "$o" in *[[:space:]]*) die "agent argument '$o' contains a space: systemd would split it" ;; esac
done

# The policy file.
config="$(md fleetprof-agent-config)"
if [ -n "$config" ]; then
  printf '%s\n' "$config" > "$etc/agent.yaml"
elif [ ! -f "$etc/agent.yaml" ]; then
  cat > "$etc/agent.yaml" <<'CONFIG'
# Written by startup.sh; every key: deploy/config/agent.yaml.
spool:
  dir: /var/lib/fleetprof-agent/spool
  max_bytes: 10GiB
CONFIG
fi

printf '# Written by startup.sh from instance metadata; edits are lost at boot.\nFLEETPROF_AGENT_OPTS=%s\n' "${opts[*]}" > "$etc/agent.env"
chmod 0644 "$etc/agent.yaml"
chmod 0640 "$etc/agent.env"
if [ -z "$root" ]; then
  chgrp fleetprof "$etc/agent.env" "$etc/tls"/* 2>/dev/null || true
  chgrp fleetprof "$etc/tls" && chmod 0750 "$etc/tls"
  systemctl daemon-reload
  systemctl enable fleetprof-agent.service
  systemctl restart fleetprof-agent.service
  log "fleetprof-agent started: journalctl -u fleetprof-agent"
else
  log "installed under $root (systemctl skipped)"
fi
