namespace ApprovalBot.Client;

/// <summary>
/// A call of <see cref="PipeClient"/> gave up on a request that provably never reached the service: each connection it
/// was sent on was closed by the service before the service read it (the write failed, or the answer was the
/// <c>"closed":true</c> line), and connecting again failed or the call's time limit ran out. Nothing of it was carried
/// out, so it is safe to send again, whatever its op. The client is closed, as after any failed call: connect again.
/// </summary>
public sealed class RequestNotCarriedOutException : IOException
{
    public RequestNotCarriedOutException()
        : base("The request did not reach the service and was not carried out.")
    {
    }

    public RequestNotCarriedOutException(string message)
        : base(message)
    {
    }

    public RequestNotCarriedOutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
