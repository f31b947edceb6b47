using System.Text;
using ApprovalBot.Cli;

// Text arrives as UTF-8 whatever the terminal says, so the hash an agent computes matches the one stored.
// A terminal on stdin means "no text piped": reading it would block on a human, so hand over nothing instead.
var stdin = Console.IsInputRedirected
    ? new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false))
    : TextReader.Null;
return await CliApp.RunAsync(args, stdin, Console.Out, Console.Error, blockingIo: true);
