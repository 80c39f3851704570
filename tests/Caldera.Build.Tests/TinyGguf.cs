using System.Text;

namespace Caldera.Build.Tests;

/// <summary>
/// A GGUF v3 file with one metadata key, <c>general.architecture</c>, and no tensors: the smallest input the
/// compiler reads far enough to reject the architecture.
/// </summary>
internal static class TinyGguf
{
    private const uint StringType = 8;

    public static void Write(string path, string architecture)
    {
        using var writer = new BinaryWriter(File.Create(path), Encoding.UTF8);
        writer.Write("GGUF"u8);
        writer.Write(3u);    // version
        writer.Write(0UL);   // tensor count
        writer.Write(1UL);   // metadata count
        WriteString(writer, "general.architecture");
        writer.Write(StringType);
        WriteString(writer, architecture);
    }

    private static void WriteString(BinaryWriter writer, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }
}
