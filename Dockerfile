# The Airbyte source image, following Airbyte's connector conventions: the protocol command is the
# entrypoint (spec | check --config | discover --config | read --config --catalog [--state]),
# AIRBYTE_ENTRYPOINT names it, and the labels give the connector's name and version.
#   docker build -t airbyte/source-salesforce-temporal:0.1.0 .
#   docker run --rm -v $PWD/secrets:/secrets airbyte/source-salesforce-temporal:0.1.0 check --config /secrets/config.json
FROM python:3.11-slim

WORKDIR /airbyte/integration_code
COPY pyproject.toml README.md LICENSE ./
COPY tap_salesforce_temporal ./tap_salesforce_temporal
COPY target_events ./target_events
RUN pip install --no-cache-dir . && useradd --create-home --uid 1000 airbyte

USER airbyte
ENV AIRBYTE_ENTRYPOINT="source-salesforce-temporal"
ENTRYPOINT ["source-salesforce-temporal"]

LABEL io.airbyte.name=airbyte/source-salesforce-temporal
LABEL io.airbyte.version=0.1.0
