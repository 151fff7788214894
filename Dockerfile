# One image for the web server and the task workers.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KISSWEB_DATA_DIR=/data KISSWEB_STATIC_ROOT=/app/staticfiles
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt requirements-gpu.txt ./
# torch + torchvision first, then the rest (torchaudio with torch pinned), then the no-deps packages, as ./kiss does.
RUN pip install --no-cache-dir $(grep -E '^(torch|torchvision)==' requirements.txt) \
 && pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt
# INSTALL_GPU=1 (the worker-gpu service): PyNvVideoCodec for NVDEC decoding; libnvcuvid comes from the host's driver.
ARG INSTALL_GPU=0
RUN if [ "$INSTALL_GPU" = "1" ]; then pip install --no-cache-dir -r requirements-gpu.txt; fi
COPY . .
RUN DJANGO_SECRET_KEY=build-only DATABASE_URL=postgres://x@localhost/x python manage.py collectstatic --noinput
RUN useradd --create-home --uid 1000 kissweb && mkdir -p /data && chown kissweb /data
USER kissweb
EXPOSE 8000
CMD ["gunicorn", "kissweb.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "8", "--timeout", "3600"]
