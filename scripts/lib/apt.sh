# Shared by the set-up scripts that fetch from Debian's archive (sourced, not run).
# Every fetch says what it resolved (package and version), turns apt's refusal into
# one line naming the package, and retries transient network errors.
#
# The caller sets SAY_AS (the name its lines start with) before sourcing.

# say TEXT...: one line on stderr, "<SAY_AS>: TEXT".
say() { printf '%s: %s\n' "${SAY_AS:-setup}" "$*" >&2; }

# Options every apt call of the set-up adds: retries and a timeout for transient errors.
APT_NET=(-oAcquire::Retries=4 -oAcquire::http::Timeout=30 -oAcquire::https::Timeout=30)

# apt_run WHAT CMD ARGS...: runs an apt command (apt-get or apt-cache) with APT_NET,
# up to 3 times while it fails (a network hiccup, a mirror mid-sync), keeping its
# output out of sight; when it still fails, says one line "WHAT: <apt's error>"
# and returns 1. Its stdout is passed on.
apt_run() {
  local what=$1 cmd=$2 attempt log
  shift 2
  log=$(mktemp)
  for attempt in 1 2 3; do
    if "$cmd" "${APT_NET[@]}" "$@" 2>"$log"; then
      rm -f "$log"
      return 0
    fi
    [[ $attempt == 3 ]] || sleep $((attempt * 3))
  done
  local why
  why=$(grep -E '^(E|Err):' "$log" | head -1)
  [[ -n "$why" ]] || why=$(grep -v '^\s*$' "$log" | tail -1)
  say "$what: ${why:-$cmd failed with no message} (tried 3 times)"
  rm -f "$log"
  return 1
}

# archive_uri: the URI of the Debian archive in this machine's own apt sources (the
# one whose release is labelled Debian, as apt-cache policy shows it), so that a
# private sources list (another suite) uses the machine's mirror, whatever it is.
archive_uri() {
  local uri
  uri=$(apt-cache policy 2>/dev/null | awk '
    $1 ~ /^-?[0-9]+$/ && $2 ~ /:\/\// { uri = $2; next }
    /^ +release / {
      if (uri != "" && $0 ~ /o=Debian,/ && $0 ~ /l=Debian,/) { print uri; exit }
      uri = ""
    }')
  if [[ -z "$uri" ]]; then
    say "no Debian archive in this machine's apt sources (apt-cache policy names none; run apt-get update)"
    return 1
  fi
  echo "$uri"
}

# candidate PKG APT-OPTIONS...: the version apt would fetch of PKG, or nothing.
candidate() {
  local pkg=$1
  shift
  apt-cache "$@" policy "$pkg" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }'
}
