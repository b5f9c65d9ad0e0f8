#!/usr/bin/env bash
# demo.sh runs the guide's setup on this machine, without Kubernetes:
#   httpbin  on 127.0.0.1:8000  (the guide's destination port)
#   jwtgate  xDS on 127.0.0.1:18000, health/metrics on 127.0.0.1:18001,
#            watching .demo/policies, Gateway port 80 + offset 8000 = 8080
#   Envoy    on envoy-config/envoy-local.yaml, gateway on 127.0.0.1:8080,
#            admin on 127.0.0.1:9901
# It generates an RSA key pair with openssl (as the guide does), renders every
# step of the walkthrough into .demo/steps/ (the real JWKS substituted), starts
# with steps 00 + 10 in .demo/policies/, prints tokens and curl commands, and
# runs in the foreground until Ctrl-C, then stops all three.
#
#   hack/demo.sh                 # the whole demo
#   hack/demo.sh --render-only   # only keys, .demo/steps and .demo/policies
#                                # (for docker compose up)
set -euo pipefail

RENDER_ONLY=false
case "${1:-}" in
"") ;;
--render-only) RENDER_ONLY=true ;;
*) echo "usage: $0 [--render-only]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEMO=.demo
JWTGATE=bin/jwtgate
HTTPBIN=.bin/go-httpbin
ENVOY="${JWTGATE_ENVOY:-.bin/envoy}"
GATEWAY=http://127.0.0.1:8080
HTTP_ADDR=127.0.0.1:18001
ISSUER=testing@asm.test.io
SUBJECT=demo@asm.test.io

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
if ! $RENDER_ONLY; then
	command -v curl >/dev/null || die "curl is required (apt-get install curl)"
	for port in 8000 8080 9901 18000 18001; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			die "port $port on 127.0.0.1 is in use; stop whatever listens there (a previous demo?)"
		fi
	done
fi

say "building jwtgate"
make --no-print-directory build  # bin/jwtgate, stamped with the git version

mkdir -p "$DEMO"
if [[ ! -f "$DEMO/rsa-private-key.pem" ]]; then
	say "generating $DEMO/rsa-private-key.pem and rsa-public-key.pem (openssl)"
	openssl genrsa -out "$DEMO/rsa-private-key.pem" 2048 2>/dev/null
	openssl rsa -in "$DEMO/rsa-private-key.pem" -pubout -out "$DEMO/rsa-public-key.pem" 2>/dev/null
fi
JWKS="$("$JWTGATE" jwk --in "$DEMO/rsa-public-key.pem" | tr -d '\n')"

say "rendering the walkthrough into $DEMO/steps/ and $DEMO/policies/"
# Empty the directories rather than recreate them: docker compose may have
# .demo/policies bind-mounted.
mkdir -p "$DEMO/steps" "$DEMO/policies"
rm -f "$DEMO/steps"/*.yaml "$DEMO/policies"/*.yaml
for f in examples/*.yaml; do
	# Replace the guide's placeholder with the real JWKS (single-quoted YAML).
	sed "s|^\([[:space:]]*jwks:\).*|\1 '$JWKS'|" "$f" >"$DEMO/steps/$(basename "$f")"
done
cp "$DEMO/steps/00-gateway.yaml" "$DEMO/steps/10-requestauthentication.yaml" "$DEMO/policies/"
"$JWTGATE" validate "$DEMO/policies" || die "the rendered policies do not validate"
if $RENDER_ONLY; then
	say "rendered; now: docker compose up --build"
	exit 0
fi

say "building go-httpbin, installing Envoy"
go build -o "$HTTPBIN" github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin
if [[ -z "${JWTGATE_ENVOY:-}" ]]; then
	hack/install-envoy.sh
fi

pids=()
cleanup() {
	trap - INT TERM EXIT
	echo
	say "stopping Envoy, jwtgate and httpbin"
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

say "starting httpbin on 127.0.0.1:8000 (log $DEMO/httpbin.log)"
"$HTTPBIN" -host 127.0.0.1 -port 8000 >"$DEMO/httpbin.log" 2>&1 &
pids+=($!)

say "starting jwtgate (log $DEMO/jwtgate.log)"
"$JWTGATE" serve \
	--policies "$DEMO/policies" \
	--xds-addr 127.0.0.1:18000 \
	--http-addr "$HTTP_ADDR" \
	--port-offset 8000 \
	--listener-address 127.0.0.1 \
	--resolve httpbin=127.0.0.1:8000 \
	>"$DEMO/jwtgate.log" 2>&1 &
pids+=($!)

say "starting Envoy (log $DEMO/envoy.log)"
"$ENVOY" -c envoy-config/envoy-local.yaml --disable-hot-restart --use-dynamic-base-id \
	--log-path "$DEMO/envoy.log" >/dev/null 2>&1 &
pids+=($!)

say "waiting for the gateway on $GATEWAY/"
for ((i = 0; ; i++)); do
	code="$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY/" || true)"
	[[ "$code" == 200 ]] && curl -sf "http://$HTTP_ADDR/readyz" >/dev/null && break
	((i < 300)) || die "gateway not ready after 30s (last status $code); see $DEMO/*.log"
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || die "a process exited early; see $DEMO/*.log"
	done
	sleep 0.1
done

TOKEN="$("$JWTGATE" token --key "$DEMO/rsa-private-key.pem" --iss "$ISSUER")"
TOKEN_SUB="$("$JWTGATE" token --key "$DEMO/rsa-private-key.pem" --iss "$ISSUER" --sub "$SUBJECT")"

cat <<EOF

jwtgate demo is up: gateway $GATEWAY  (policies in $DEMO/policies, steps in $DEMO/steps)

In another shell (tokens are valid for an hour; re-run the token command for more):

  export TOKEN=$TOKEN
  export TOKEN_SUB=$TOKEN_SUB
  # or: TOKEN=\$(bin/jwtgate token --key $DEMO/rsa-private-key.pem --iss $ISSUER)

Step 10 (RequestAuthentication only; active now)
  curl -I -H "Authorization: Bearer \$TOKEN" $GATEWAY/            # 200
  curl -I -H "Authorization: Bearer invalidToken" $GATEWAY/       # 401, error="invalid_token"
  curl -I $GATEWAY/                                               # 200

Step 20 (require a valid JWT)
  cp $DEMO/steps/20-require-jwt.yaml $DEMO/policies/
  curl -I $GATEWAY/                                               # 401, www-authenticate: Bearer realm=...
  curl -I -H "Authorization: Bearer \$TOKEN" $GATEWAY/            # 200

Step 30 (only iss $ISSUER with sub $SUBJECT)
  cp $DEMO/steps/30-issuer-subject.yaml $DEMO/policies/; rm $DEMO/policies/20-require-jwt.yaml
  curl -I -H "Authorization: Bearer \$TOKEN" $GATEWAY/            # 403 (no sub)
  curl -I -H "Authorization: Bearer \$TOKEN_SUB" $GATEWAY/        # 200

Best practice (exempt health checks)
  cp $DEMO/steps/40-exempt-healthz.yaml $DEMO/policies/; rm $DEMO/policies/30-issuer-subject.yaml
  curl -I $GATEWAY/healthz          # 404 from httpbin (it has no /healthz): the gateway let it through
  curl -I $GATEWAY/headers          # 401
  curl -H "Authorization: Bearer \$TOKEN" $GATEWAY/headers        # 200

Check a tree before copying it:  bin/jwtgate validate $DEMO/policies
jwtgate:  http://$HTTP_ADDR/metrics   Envoy admin:  http://127.0.0.1:9901/config_dump

Press Ctrl-C to stop.
EOF

# Stay in the foreground until Ctrl-C or until one of the three exits.
wait -n "${pids[@]}" || true
echo "demo: a process exited; see $DEMO/*.log" >&2
exit 1
