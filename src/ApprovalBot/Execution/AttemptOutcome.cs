namespace ApprovalBot.Execution;

/// <summary>
/// How one attempt ended: executed with a result, or failed (retryable or not) with a reason.
/// <see cref="MayHaveTakenEffect"/> marks a failure that does not say whether the effect happened (a timeout,
/// a kill mid-run, a pull executor's <c>fail</c> that says so): on a route that does not dedupe, running it again could post twice.
/// </summary>
internal sealed record AttemptOutcome(bool Succeeded, string? Result, string? Error, bool Retryable, bool MayHaveTakenEffect = false)
{
    /// <summary>Bound on stored results and errors, so a chatty sink cannot bloat the store or the card.</summary>
    public const int MaxResultChars = 1000;
    public const int MaxErrorChars = 2000;

    /// <summary>
    /// The result as stored, shown and logged: one line of plain text (<see cref="OutputText"/>), bounded. A route's output
    /// is the program's or the sink's, and reaches the card and the console log only so.
    /// </summary>
    public static AttemptOutcome Success(string? result) => new(true, Bound(OutputText.OneLine(result), MaxResultChars), null, false);

    /// <summary>The error one line of plain text, bounded, as the result of <see cref="Success"/>.</summary>
    public static AttemptOutcome Failure(string error, bool retryable, bool mayHaveTakenEffect = false) =>
        new(false, null, ErrorText(error), retryable, mayHaveTakenEffect);

    /// <summary>
    /// The draft could not be written as the route's input, so nothing was started or sent. Not retryable: the same
    /// stored draft fails the same way, so a human looks at it (Retry once the store is fixed, or Discard).
    /// </summary>
    public static AttemptOutcome InputNotWritten(string problem) =>
        Failure("the draft could not be written as the route's input: " + problem, retryable: false);

    /// <summary>Cut off mid-run: it may have taken effect before it stopped.</summary>
    public static AttemptOutcome Interrupted(string error) => new(false, null, ErrorText(error), Retryable: true, MayHaveTakenEffect: true);

    private static string ErrorText(string error) => Bound(OutputText.OneLine(error), MaxErrorChars) ?? "no reason given";

    /// <summary>How the attempt ended, in the log's and the ledger's words.</summary>
    public string Word => Succeeded ? "succeeded" : MayHaveTakenEffect ? "failed and may have taken effect" : "failed";

    /// <summary>The result of a success, or the error of a failure.</summary>
    public string? Detail => Succeeded ? Result : Error;

    public static string? Bound(string? value, int max) => OutputText.Bound(value, max);

    /// <summary>The first line of a route's output as plain text (<see cref="OutputText.FirstLine"/>); null when it is blank.</summary>
    public static string? FirstLine(string? text) => OutputText.FirstLine(text);
}
