#!/usr/bin/env bash
# The form server and its notification worker side by side (what `make run` starts): gunicorn in front,
# `flask --app formserver worker` beside it with its output prefixed [worker]. Ctrl-C (or either process
# ending) stops both. Usage: scripts/serve.sh PORT [BIN]
set -u
PORT=${1:-8000}
BIN=${2:-.venv/bin}

PYTHONUNBUFFERED=1 "$BIN/flask" --app formserver worker > >(sed -u 's/^/[worker] /') 2>&1 &
worker=$!
"$BIN/gunicorn" --bind "127.0.0.1:$PORT" --workers 2 --worker-class gthread --threads 4 --timeout 60 \
	--access-logfile - 'formserver:create_app()' &
web=$!

stop() {
	trap - INT TERM EXIT
	kill -TERM "$worker" "$web" 2>/dev/null
	wait "$worker" "$web" 2>/dev/null
}
trap stop INT TERM EXIT
wait -n "$worker" "$web"  # the first to end (Ctrl-C ends both) takes the other with it
