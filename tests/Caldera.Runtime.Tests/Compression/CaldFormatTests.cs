using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Tests.Formats;

namespace Caldera.Runtime.Tests.Compression;

public class CaldFormatTests
{
    private static TokenizerPayload Tokenizer => new(TokenizerPayloadKind.SentencePieceModel, File.ReadAllBytes(TestModels.Tok512Model), new byte[] { 1, 2, 3 });

    [Fact]
    public void A_written_file_reads_back_equal_in_every_field_and_array()
    {
        using var dir = new TempDirectory();
        var content = SyntheticCompressed.Model(Tokenizer);
        string path = dir.File("model.cald");
        CaldWriter.Write(path, content);
        using var file = CaldFile.Open(path);
        var read = file.Content;

        Assert.Equal(content.Config, read.Config);
        Assert.Equal(content.Settings, read.Settings);
        Assert.Equal(content.SourceSha256, read.SourceSha256);
        Assert.Equal(content.ToolVersion, read.ToolVersion);
        Assert.Equal(content.Tokenizer!.Kind, read.Tokenizer!.Kind);
        Assert.Equal(content.Tokenizer.Bytes.ToArray(), read.Tokenizer.Bytes.ToArray());
        Assert.Equal(content.Tokenizer.ConfigBytes.ToArray(), read.Tokenizer.ConfigBytes.ToArray());
        Assert.Equal(content.DenseTensors.Count, read.DenseTensors.Count);
        for (int i = 0; i < content.DenseTensors.Count; i++)
        {
            var (a, b) = (content.DenseTensors[i], read.DenseTensors[i]);
            Assert.Equal((a.Name, a.Type), (b.Name, b.Type));
            Assert.Equal(a.Shape, b.Shape);
            Assert.Equal(a.Data.ToArray(), b.Data.ToArray());
        }
        Assert.Equal(content.Matrices.Count, read.Matrices.Count);
        for (int i = 0; i < content.Matrices.Count; i++) AssertEqual(content.Matrices[i], read.Matrices[i]);

        var (bits, weights, _) = CompressedModelCheck.CountWeights(content);
        Assert.Equal((double)bits / weights, file.Bits.LinearLayers);
        Assert.Equal(8.0 * new FileInfo(path).Length / CompressedModelCheck.CountWeights(content).TotalWeights, file.Bits.File);
    }

    [Fact]
    public void Transforms_shared_by_several_matrices_are_stored_once_and_counted_once()
    {
        using var dir = new TempDirectory();
        var model = SyntheticCompressed.Model(Tokenizer);
        // Same seed for every matrix: all sides of one dimension get byte-identical transforms, as in a real compression.
        CompressedModelContent WithSeeds(Func<int, int> seed) => model with
        {
            Matrices = model.Matrices.Select((m, i) => SyntheticCompressed.Matrix(m.Name, m.Rows, m.Columns, rank: 0, seed: seed(i))).ToList(),
        };
        string shared = dir.File("shared.cald"), distinct = dir.File("distinct.cald");
        CaldWriter.Write(shared, WithSeeds(_ => 1));
        CaldWriter.Write(distinct, WithSeeds(i => i + 1));

        // Six 172-wide sides (gate and up rows, down columns, two layers) each carry a 43×43 fp32 fallback block; the
        // file stores one section per distinct block and points every side at it.
        foreach (var (path, content) in new[] { (shared, WithSeeds(_ => 1)), (distinct, WithSeeds(i => i + 1)) })
        {
            var offsets = System.Text.RegularExpressions.Regex.Matches(CaldFiles.Manifest(File.ReadAllBytes(path)),
                "\"fallback_block\":\\s*\\{[^}]*?\"offset\":\\s*(\\d+)").Select(m => m.Groups[1].Value).ToList();
            int distinctBlocks = content.Matrices.SelectMany(m => new[] { m.InputTransform, m.OutputTransform })
                .Where(t => t is { IsHadamard: false, Length: 172 }).Select(t => t!.ContentKey()).Distinct().Count();
            Assert.Equal(6, offsets.Count);
            Assert.Equal(distinctBlocks, offsets.Distinct().Count());
        }
        Assert.True(new FileInfo(shared).Length < new FileInfo(distinct).Length);
        using var sharedFile = CaldFile.Open(shared);
        using var distinctFile = CaldFile.Open(distinct);
        Assert.True(sharedFile.Bits.LinearLayers < distinctFile.Bits.LinearLayers);
        var written = WithSeeds(_ => 1).Matrices;
        for (int i = 0; i < written.Count; i++) AssertEqual(written[i], sharedFile.Content.Matrices[i]);

        // The reader gives the sides that name the same sections one instance, and binding builds its transform once.
        static TransformData[] Sides(CaldFile file, int length) => file.Content.Matrices
            .SelectMany(m => new[] { m.InputTransform, m.OutputTransform }).Where(t => t?.Length == length).Select(t => t!).ToArray();
        var sharedSides = Sides(sharedFile, 172);
        Assert.Equal(sharedSides.Select(t => t.ContentKey()).Distinct().Count(), sharedSides.Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.True(sharedSides.Distinct(ReferenceEqualityComparer.Instance).Count() < sharedSides.Length);
        var twin = sharedSides.Skip(1).First(t => t.ContentKey() == sharedSides[0].ContentKey());
        Assert.Same(sharedSides[0], twin);
        Assert.Same(sharedSides[0].ToRandomizedHadamard(), twin.ToRandomizedHadamard());
        var distinctSides = Sides(distinctFile, 172);
        Assert.Equal(distinctSides.Select(t => t.ContentKey()).Distinct().Count(), distinctSides.Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.NotSame(distinctSides[0].ToRandomizedHadamard(), distinctSides.First(t => t.ContentKey() != distinctSides[0].ContentKey()).ToRandomizedHadamard());
    }

    [Fact]
    public void Sections_are_aligned_views_of_the_mapping()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.cald");
        CaldWriter.Write(path, SyntheticCompressed.Model());
        using var file = CaldFile.Open(path);
        var q = file.Content.Matrices.First(m => m.QKind == QCodeKind.E8P).QCodes;
        Assert.False(MemoryMarshal.TryGetArray(q, out _)); // a view, not a copy
        unsafe
        {
            using var pin = q.Pin();
            Assert.Equal(0, (long)pin.Pointer % CaldLayout.Alignment);
        }
    }

    [Fact]
    public void Identical_content_gives_identical_bytes()
    {
        using var dir = new TempDirectory();
        CaldWriter.Write(dir.File("a.cald"), SyntheticCompressed.Model(Tokenizer));
        CaldWriter.Write(dir.File("b.cald"), SyntheticCompressed.Model(Tokenizer));
        Assert.Equal(File.ReadAllBytes(dir.File("a.cald")), File.ReadAllBytes(dir.File("b.cald")));
        CaldWriter.Write(dir.File("c.cald"), SyntheticCompressed.Model(Tokenizer, seed: 4));
        Assert.NotEqual(File.ReadAllBytes(dir.File("a.cald")), File.ReadAllBytes(dir.File("c.cald")));
    }

    [Fact]
    public void Corrupt_frames_are_rejected_with_the_file_name()
    {
        using var dir = new TempDirectory();
        string good = dir.File("good.cald");
        CaldWriter.Write(good, SyntheticCompressed.Model());
        byte[] bytes = File.ReadAllBytes(good);

        Reject(dir, Patch(bytes, 0, (byte)'X'), "bad magic");
        var version = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(version.AsSpan(CaldLayout.VersionOffset), CaldLayout.Version + 1);
        Reject(dir, version, $"format version {CaldLayout.Version + 1} is not supported (this build reads versions 1 to {CaldLayout.Version}); a newer caldera wrote it");
        BinaryPrimitives.WriteUInt32LittleEndian(version.AsSpan(CaldLayout.VersionOffset), 0);
        Reject(dir, version, "format version 0 is not supported");
        // Any single flipped byte after the magic and version is caught (by the length or the checksum).
        for (int i = 12; i < bytes.Length; i += bytes.Length / 61) Reject(dir, Patch(bytes, i, (byte)(bytes[i] ^ 0x10)), null);
        Reject(dir, Patch(bytes, bytes.Length - 1, (byte)'}'), "checksum mismatch");
        foreach (int length in new[] { 1, 8, 63, 64, 65, 200, bytes.Length / 2, bytes.Length - 1 })
            Reject(dir, bytes[..length], null);
        Reject(dir, [.. bytes, 0], "truncated or extended");
    }

    [Fact]
    public void Hostile_manifests_with_valid_checksums_are_rejected()
    {
        using var dir = new TempDirectory();
        string good = dir.File("good.cald");
        CaldWriter.Write(good, SyntheticCompressed.Model());
        byte[] bytes = File.ReadAllBytes(good);
        string manifest = CaldFiles.Manifest(bytes);

        Reject(dir, CaldFiles.WithManifest(bytes, "{\"format\": \"cald\", "), "not valid JSON");
        Reject(dir, CaldFiles.WithManifest(bytes, "[1, 2]"), "expected an object");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"offset\": 64", "\"offset\": 9223372036854775744"), "outside the section area");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"offset\": 64", "\"offset\": 65"), "not a multiple of 64");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"offset\": 64", "\"offset\": -64"), "outside the section area");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"offset\": 128", "\"offset\": 64"), "sections overlap");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"global_scale\": 0.75", "\"global_scale\": 1e39"), "outside the float range");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"global_scale\": 0.75", "\"global_scale\": \"NaN\""), "global_scale");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"rows\": 16", "\"rows\": 17"), "does not match the [17, 2]");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"rows\": 16", "\"rows\": 2000000000"), "out of range");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"rank\": 4", "\"rank\": 5", occurrence: 1), "shape");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"dtype\": \"u16\"", "\"dtype\": \"f16\""), "dtype");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"dim\": 16", "\"dim\": 0"), "config.dim");
        Reject(dir, CaldFiles.EditManifest(bytes, "\"name\": \"output_norm.weight\"", "\"name\": \"blk.0.attn_norm.weight\""), "twice");
        Reject(dir, CaldFiles.EditManifest(bytes, $"\"format_version\": {CaldLayout.Version}", "\"format_version\": 1"), $"does not match the header's version {CaldLayout.Version}");
        Assert.Contains("\"length\"", manifest);
    }

    [Fact]
    public void A_failed_write_leaves_no_temporary_and_no_partial_file()
    {
        using var dir = new TempDirectory();
        var content = SyntheticCompressed.Model();

        // The rename fails after the whole temporary file was written: the target is a directory.
        string directory = dir.File("taken.cald");
        Directory.CreateDirectory(directory);
        Assert.ThrowsAny<Exception>(() => CaldWriter.Write(directory, content));
        Assert.Equal([directory], Directory.GetFileSystemEntries(dir.Path));

        // Reading the source fails midway (a memory-mapped input hitting an I/O error): the old file survives.
        string target = dir.File("model.cald");
        File.WriteAllText(target, "previous");
        var dense = content.DenseTensors.ToList();
        dense[^1] = dense[^1] with { Data = new FailingMemory(dense[^1].Data.ToArray(), okReads: 1).Memory };
        Assert.Throws<IOException>(() => CaldWriter.Write(target, content with { DenseTensors = dense }));
        Assert.Equal("previous", File.ReadAllText(target));
        Assert.Equal(2, Directory.GetFileSystemEntries(dir.Path).Length);

        // Inconsistent content is refused before anything is written.
        var matrices = content.Matrices.ToList();
        matrices[0] = matrices[0] with { QScale = float.NaN };
        Assert.Throws<ArgumentException>(() => CaldWriter.Write(target, content with { Matrices = matrices }));
        Assert.Equal("previous", File.ReadAllText(target));
    }

    private static byte[] Patch(byte[] bytes, int index, byte value)
    {
        var copy = (byte[])bytes.Clone();
        copy[index] = value;
        return copy;
    }

    private static void Reject(TempDirectory dir, byte[] bytes, string? expected)
    {
        string path = dir.File("bad.cald");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => { using var _ = CaldFile.Open(path); });
        Assert.Equal(path, e.FilePath);
        if (expected != null) Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"'{expected}' is not in: {e.Message}");
    }

    internal static void AssertEqual(CompressedLinearData a, CompressedLinearData b)
    {
        Assert.Equal((a.Name, a.Rows, a.Columns, a.GlobalScale, a.QKind, a.QBits, a.QWordsPerRow, a.QScale),
            (b.Name, b.Rows, b.Columns, b.GlobalScale, b.QKind, b.QBits, b.QWordsPerRow, b.QScale));
        Assert.Equal((a.Rank, a.FactorBits, a.LTransposedScale, a.RScale, a.RelativeError), (b.Rank, b.FactorBits, b.LTransposedScale, b.RScale, b.RelativeError));
        Assert.Equal(a.QCodes.ToArray(), b.QCodes.ToArray());
        Assert.Equal(a.LTransposedCodes.ToArray(), b.LTransposedCodes.ToArray());
        Assert.Equal(a.RCodes.ToArray(), b.RCodes.ToArray());
        Assert.Equal(a.L.ToArray(), b.L.ToArray());
        Assert.Equal(a.R.ToArray(), b.R.ToArray());
        foreach (var (x, y) in new[] { (a.InputTransform, b.InputTransform), (a.OutputTransform, b.OutputTransform) })
        {
            Assert.Equal(x is null, y is null);
            if (x is null || y is null) continue;
            Assert.Equal((x.Length, x.BlockOrder, x.IsHadamard), (y.Length, y.BlockOrder, y.IsHadamard));
            Assert.Equal(x.Signs.ToArray(), y.Signs.ToArray());
            Assert.Equal(x.FallbackBlock.ToArray(), y.FallbackBlock.ToArray());
        }
    }

    /// <summary>Bytes whose reads fail after <paramref name="okReads"/> successful ones, like a mapped file on a failing disk.</summary>
    private sealed class FailingMemory(byte[] bytes, int okReads) : MemoryManager<byte>
    {
        private int _reads;

        public override Span<byte> GetSpan() => _reads++ < okReads ? bytes : throw new IOException("simulated read error");
        public override MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();
        public override void Unpin() { }
        protected override void Dispose(bool disposing) { }
    }
}
