using System.Reflection;
using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Pipe.Operations;

internal sealed class PingOperation : IPipeOperation
{
    public static readonly string Version =
        typeof(PingOperation).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public string Name => Ops.Ping;

    public Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        StrictRequest.Read(request, ProtocolJsonContext.Default.PingRequest);
        return Task.FromResult(new Response { Ok = true, Version = Version });
    }
}
