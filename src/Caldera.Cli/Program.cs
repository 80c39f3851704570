using Caldera.Cli;
using Caldera.Runtime.Formats;

// The `caldera` command. Each verb lives in its own file; bad input of any kind is a
// ModelFormatException (or CliUsageException) whose message is printed as is, with exit code 2.
try
{
    return args switch
    {
        ["run", .. var rest] => RunCommand.Execute(rest),
        ["inspect", .. var rest] => InspectCommand.Execute(rest),
        ["--version"] => PrintVersion(),
        [] or ["help" or "--help" or "-h", ..] => Usage.Print(Console.Out, 0),
        _ => throw new CliUsageException($"unknown command '{args[0]}'"),
    };
}
catch (ModelFormatException e)
{
    Console.Error.WriteLine($"caldera: {e.Message}");
    return 2;
}
catch (CliUsageException e)
{
    Console.Error.WriteLine($"caldera: {e.Message}");
    Usage.Print(Console.Error, 0);
    return 2;
}

static int PrintVersion()
{
    Console.WriteLine(typeof(RunCommand).Assembly.GetName().Version);
    return 0;
}
