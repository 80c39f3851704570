using System.Buffers.Binary;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Formats;

/// <summary>Files that reach the llama2.c reader (anything neither GGUF nor a directory) fail with a clear message.</summary>
public sealed class Llama2cBadInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(5, int.MinValue, "'vocab_size'")] // |int.MinValue| does not exist in int32
    [InlineData(3, 7, "'n_heads'")]
    [InlineData(2, -1, "'n_layers'")]
    [InlineData(4, 3, "'n_kv_heads'")]
    public void An_implausible_header_names_the_field_and_suggests_other_formats(int field, int value, string named)
    {
        var bytes = File.ReadAllBytes(TestModels.Stories260KBin);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * field), value);
        var e = Rejected(bytes, "model.bin");
        Assert.Contains(named, e.Message);
        Assert.Contains("not a llama2.c checkpoint?", e.Message);
    }

    [Fact]
    public void A_truncated_checkpoint_reports_the_expected_size()
    {
        var bytes = File.ReadAllBytes(TestModels.Stories260KBin);
        var e = Rejected(bytes[..^4], "model.bin");
        Assert.Contains("1056540-byte llama2.c checkpoint but the file has 1056536 bytes (truncated?)", e.Message);
        Rejected(bytes[..10], "short.bin");
    }

    [Fact]
    public void A_gguf_name_without_the_gguf_magic_is_called_out()
    {
        var e = Rejected(File.ReadAllBytes(TestModels.Stories260KBin), "model.gguf");
        Assert.Contains("does not start with the GGUF magic", e.Message);
    }

    private ModelFormatException Rejected(byte[] bytes, string name)
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => ModelCheckpoint.Open(path).Dispose());
        Assert.StartsWith(path + ": ", e.Message);
        return e;
    }
}
