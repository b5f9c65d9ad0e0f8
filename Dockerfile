# jwtgate image: a static binary on distroless, running as nonroot.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/jwtgate ./cmd/jwtgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jwtgate /usr/local/bin/jwtgate
USER nonroot:nonroot
# 18000: xDS (ADS) for Envoy; 18001: /healthz, /readyz, /metrics.
EXPOSE 18000 18001
ENTRYPOINT ["/usr/local/bin/jwtgate"]
CMD ["serve"]
