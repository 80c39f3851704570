namespace Caldera.Runtime.Hosting;

/// <summary>One model in an executable's trailer: its name and where its <c>.cald</c> bytes lie (offsets from the start of the file).</summary>
internal sealed record TrailerEntry(string Name, long Offset, long Length);
