using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tests.Compression;

/// <summary>
/// .cald files whose checksum is valid but whose content is not what caldera writes: a forger (or a buggy writer)
/// recomputes the checksum, so these are caught by checking the content itself.
/// </summary>
public sealed class CaldForgeryTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly byte[] _good;

    public CaldForgeryTests()
    {
        string path = _dir.File("good.cald");
        CaldWriter.Write(path, SyntheticCompressed.Model());
        _good = File.ReadAllBytes(path);
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_unforged_file_reads()
    {
        using var file = CaldFile.Open(_dir.File("good.cald"));
        Assert.Contains(file.Content.Matrices, m => m.InputTransform is { IsHadamard: false } || m.OutputTransform is { IsHadamard: false });
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1e30f)]
    [InlineData(float.NaN)]
    public void A_fallback_transform_block_that_is_not_orthogonal_is_rejected(float value)
    {
        var (offset, length) = FirstSection(item => item["output_transform"]?["fallback_block"] ?? item["input_transform"]?["fallback_block"]);
        byte[] forged = (byte[])_good.Clone();
        for (long i = offset; i < offset + length; i += 4) BinaryPrimitives.WriteSingleLittleEndian(forged.AsSpan((int)i), value);
        Reject(WithChecksum(forged), "fallback_block': is not orthogonal");
    }

    [Fact]
    public void A_dense_tensor_sharing_another_tensors_bytes_is_rejected()
    {
        var manifest = Manifest();
        var dense = manifest["dense_tensors"]!.AsArray();
        var norms = dense.Where(d => d!["name"]!.GetValue<string>().EndsWith("attn_norm.weight", StringComparison.Ordinal)).ToArray();
        norms[1]!["offset"] = norms[0]!["offset"]!.GetValue<long>();
        Reject(CaldFiles.WithManifest(_good, manifest.ToJsonString()), "sections overlap");
    }

    [Theory]
    [InlineData(13)]
    [InlineData(40)]
    [InlineData(63)]
    public void A_non_zero_reserved_header_byte_is_rejected(int at)
    {
        byte[] forged = (byte[])_good.Clone();
        forged[at] = 1;
        Reject(WithChecksum(forged), $"reserved header byte {at} is 1, not 0");
    }

    [Fact]
    public void An_unknown_compression_method_is_rejected()
    {
        var manifest = Manifest();
        manifest["compression"]!["method"] = "gptq";
        Reject(CaldFiles.WithManifest(_good, manifest.ToJsonString()), "setting 'compression.method': 'gptq' is not one of caldera, ldlq, rtn");
    }

    [Theory]
    [InlineData("total", -1)]
    [InlineData("total", 12345)]
    [InlineData("linear_layers", -5)]
    public void Weight_counts_that_do_not_match_the_matrices_are_rejected(string key, long value)
    {
        var manifest = Manifest();
        manifest["weights"]![key] = value;
        Reject(CaldFiles.WithManifest(_good, manifest.ToJsonString()), $"setting 'weights.{key}': {value} ≠ ");
    }

    private JsonObject Manifest() => JsonNode.Parse(CaldFiles.Manifest(_good))!.AsObject();

    private (long Offset, long Length) FirstSection(Func<JsonNode, JsonNode?> pick)
    {
        var section = Manifest()["matrices"]!.AsArray().Select(m => pick(m!)).First(s => s != null)!;
        return (section["offset"]!.GetValue<long>(), section["length"]!.GetValue<long>());
    }

    private static byte[] WithChecksum(byte[] file)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(CaldLayout.ChecksumOffset), CaldLayout.Checksum(file));
        return file;
    }

    private void Reject(byte[] bytes, string expected)
    {
        string path = _dir.File("forged.cald");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => { using var _ = CaldFile.Open(path); });
        Assert.Equal(path, e.FilePath);
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"'{expected}' is not in: {e.Message}");
    }
}
