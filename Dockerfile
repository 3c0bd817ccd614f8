# One trio_mcp instance serving examples.cluster:app on port 8000 (compose.yaml runs three behind HAProxy).
#
#   docker build -t trio-mcp .
#   docker run --rm -p 8000:8000 trio-mcp                     # http://localhost:8000/mcp, memory store
#   docker run --rm -p 8000:8000 -e TRIO_MCP_ALLOWED_HOSTS=mcp.example.com,localhost \
#       -e TRIO_MCP_STORE=redis -e REDIS_URL=redis://redis.internal:6379/0 trio-mcp
#
# Every knob is an environment variable (README "Configuration"); TRIO_MCP_ALLOWED_HOSTS must name the host
# clients use (the public name), since by default only loopback names are accepted. Serving your own app:
# copy its module in and override the command, e.g. `trio-mcp serve myapp:app --bind 0.0.0.0:8000`.
# See docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install '.[redis]' \
    && useradd --system --no-create-home --uid 10001 mcp

USER mcp
EXPOSE 8000

# Liveness only (/healthz answers while the process serves); the load balancer checks /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# Exec form: trio-mcp is PID 1 and receives SIGTERM itself (docker stop): it stops accepting and gives open
# requests --graceful-timeout seconds (3 by default; docker stop sends SIGKILL after 10 s). The current
# directory (/app) goes on sys.path, so `examples` imports from the copied checkout.
CMD ["trio-mcp", "serve", "examples.cluster:app", "--bind", "0.0.0.0:8000"]
