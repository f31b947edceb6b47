namespace ApprovalBot.Cli;

/// <summary>The standard streams of one run; tests hand in their own instead of the console. Stdin stays bytes: SubmitInput decodes it.</summary>
internal sealed record CliIo(Stream In, TextWriter Out, TextWriter Error);
