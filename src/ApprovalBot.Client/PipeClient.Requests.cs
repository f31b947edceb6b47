using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ApprovalBot.Client;

// The protocol's ops, blocking and async, each one request line and one parsed answer.
public sealed partial class PipeClient
{
    public Response Ping() => Send(new PingRequest(), ProtocolJson.RequestContext.PingRequest);

    public Response Submit(DraftSubmission draft) =>
        Send(new SubmitRequest { Draft = draft }, ProtocolJson.RequestContext.SubmitRequest);

    public Response Get(string id) => Send(new GetRequest { Id = id }, ProtocolJson.RequestContext.GetRequest);

    /// <summary>Blocks until the draft is decided (or its flow has ended, with <see cref="WaitUntil.Final"/>) or the timeout.</summary>
    public Response Wait(string id, int timeoutMs, string? until = null) =>
        Send(new WaitRequest { Id = id, TimeoutMs = timeoutMs, Until = until }, ProtocolJson.RequestContext.WaitRequest, timeoutMs);

    /// <summary>The blocking form of <see cref="CancelAsync"/>.</summary>
    public Response Cancel(string id, string? reason = null) =>
        Send(new CancelRequest { Id = id, Reason = reason }, ProtocolJson.RequestContext.CancelRequest);

    private Response Send<T>(T request, JsonTypeInfo<T> typeInfo, int serviceWaitMs = 0)
    {
        var responseLine = SendRaw(JsonSerializer.SerializeToUtf8Bytes(request, typeInfo), serviceWaitMs)
            ?? throw new IOException("The service closed the connection without answering.");
        return ParseResponse(responseLine);
    }

    public Task<Response> PingAsync(CancellationToken cancellationToken = default) =>
        SendAsync(new PingRequest(), ProtocolJson.RequestContext.PingRequest, cancellationToken);

    public Task<Response> SubmitAsync(DraftSubmission draft, CancellationToken cancellationToken = default) =>
        SendAsync(new SubmitRequest { Draft = draft }, ProtocolJson.RequestContext.SubmitRequest, cancellationToken);

    public Task<Response> GetAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(new GetRequest { Id = id }, ProtocolJson.RequestContext.GetRequest, cancellationToken);

    public Task<Response> WaitAsync(string id, int timeoutMs, CancellationToken cancellationToken = default) =>
        SendAsync(new WaitRequest { Id = id, TimeoutMs = timeoutMs }, ProtocolJson.RequestContext.WaitRequest, cancellationToken, timeoutMs);

    /// <summary>Waits until the draft is decided or, with <see cref="WaitUntil.Final"/>, until its flow has ended.</summary>
    public Task<Response> WaitAsync(string id, int timeoutMs, string until, CancellationToken cancellationToken = default) =>
        SendAsync(new WaitRequest { Id = id, TimeoutMs = timeoutMs, Until = until }, ProtocolJson.RequestContext.WaitRequest, cancellationToken, timeoutMs);

    public Task<Response> ListAsync(string? state = null, int? limit = null, string? kind = null, CancellationToken cancellationToken = default) =>
        SendAsync(new ListRequest { State = state, Limit = limit, Kind = kind }, ProtocolJson.RequestContext.ListRequest, cancellationToken);

    /// <summary>
    /// A list with every option, <see cref="ListRequest.Before"/> included: pass the previous answer's
    /// <see cref="Response.NextBefore"/> as it to read the next (older) page. A name of its own, not a ListAsync
    /// overload, so that an existing <c>ListAsync(null)</c> still compiles.
    /// </summary>
    public Task<Response> ListPageAsync(ListRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(request, ProtocolJson.RequestContext.ListRequest, cancellationToken);

    public Task<Response> ReportAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync(new ReportRequest { Name = name }, ProtocolJson.RequestContext.ReportRequest, cancellationToken);

    public Task<Response> ClaimAsync(string kind, int? max = null, int? leaseSeconds = null, CancellationToken cancellationToken = default) =>
        SendAsync(new ClaimRequest { Kind = kind, Max = max, LeaseSeconds = leaseSeconds }, ProtocolJson.RequestContext.ClaimRequest, cancellationToken);

    public Task<Response> CompleteAsync(string id, string lease, string? result, CancellationToken cancellationToken = default) =>
        SendAsync(new CompleteRequest { Id = id, Lease = lease, Result = result }, ProtocolJson.RequestContext.CompleteRequest, cancellationToken);

    public Task<Response> FailAsync(string id, string lease, string error, bool retryable, CancellationToken cancellationToken = default) =>
        SendAsync(new FailRequest { Id = id, Lease = lease, Error = error, Retryable = retryable }, ProtocolJson.RequestContext.FailRequest, cancellationToken);

    /// <summary>
    /// A <c>fail</c> with every option, <see cref="FailRequest.MayHaveTakenEffect"/> included: set it when the attempt may
    /// have posted after all (the target did not answer in time).
    /// </summary>
    public Task<Response> FailAsync(FailRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(request, ProtocolJson.RequestContext.FailRequest, cancellationToken);

    /// <summary>
    /// Withdraws a draft (op <c>cancel</c>): answered with the draft, now <c>cancelled</c>, or an error: <c>conflict</c> once
    /// it is past withdrawing (executing, executed, rejected, expired, blocked, unknown, or discarded by the approver),
    /// <c>not_found</c>. A repeat after a lost answer gets the same answer; the first <paramref name="reason"/> stays.
    /// </summary>
    public Task<Response> CancelAsync(string id, string? reason = null, CancellationToken cancellationToken = default) =>
        SendAsync(new CancelRequest { Id = id, Reason = reason }, ProtocolJson.RequestContext.CancelRequest, cancellationToken);

    private async Task<Response> SendAsync<T>(T request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken, int serviceWaitMs = 0)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(request, typeInfo);
        var responseLine = await SendRawAsync(line, serviceWaitMs, cancellationToken).ConfigureAwait(false)
            ?? throw new IOException("The service closed the connection without answering.");
        return ParseResponse(responseLine);
    }
}
