# Multi-stage build: the SDK image builds and publishes, the ASP.NET runtime image (the built-in Bot API
# sandbox uses Kestrel) runs it as the image's non-root "app" user with /data as the volume.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ApprovalBot.sln ./
COPY config/ config/
COPY src/ src/
RUN dotnet publish src/ApprovalBot/ApprovalBot.csproj -c Release -o /app \
 && dotnet publish src/ApprovalBot.Cli/ApprovalBot.Cli.csproj -c Release -o /app/cli

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# tini as PID 1: it forwards docker stop's SIGTERM to the service and reaps what a command route leaves behind, which
# dotnet as PID 1 would leave as zombies. Command routes also need setsid (util-linux, already in the image).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# Without a token the built-in sandbox runs, and its page and /sandbox/ control surface need no login. Inside the
# container it must listen on 0.0.0.0 for a published port to reach it, so the image opts in with AllowRemote
# (the service refuses a non-loopback Sandbox:Url otherwise). Publish it to the host's loopback only:
#   docker run -p 127.0.0.1:5780:5780 ...
ENV ApprovalBot__DataDirectory=/data \
    ApprovalBot__Pipe__Name=/data/approvalbot.sock \
    ApprovalBot__Sandbox__Url=http://0.0.0.0:5780 \
    ApprovalBot__Sandbox__AllowRemote=true \
    APPROVALBOT_PIPE=/data/approvalbot.sock
RUN mkdir -p /data && chown app:app /data
VOLUME ["/data"]
USER app
EXPOSE 5780
ENTRYPOINT ["/usr/bin/tini", "--", "dotnet", "/app/ApprovalBot.dll"]
