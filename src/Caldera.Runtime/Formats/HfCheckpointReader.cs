using System.Text.Json;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Reads a Hugging Face model directory: <c>config.json</c> plus either one <c>model.safetensors</c> or the
/// shards named by <c>model.safetensors.index.json</c>'s <c>weight_map</c>. Tensors are renamed to
/// <see cref="TensorNames"/> and kept in place. transformers permutes q_proj/k_proj rows so that RoPE
/// rotates (i, i + headDim/2); the rows stay as stored and the config records <see cref="RopePairing.RotateHalf"/>.
/// </summary>
internal static unsafe class HfCheckpointReader
{
    public const string ConfigFile = "config.json";
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    private const long MaxIndexBytes = 64 << 20;

    public static ModelCheckpoint Read(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath))
            throw new ModelFormatException(directory,
                $"has no {ConfigFile}; a Hugging Face model directory needs {ConfigFile} plus {SingleFile} (or {IndexFile} and its shards)");
        var config = HfConfigReader.Read(configPath);

        var files = new List<MappedFile>();
        try
        {
            var stored = File.Exists(Path.Combine(directory, SingleFile)) ? ReadSingle(directory, files)
                : File.Exists(Path.Combine(directory, IndexFile)) ? ReadSharded(directory, files)
                : throw new ModelFormatException(directory, $"has {ConfigFile} but neither {SingleFile} nor {IndexFile}");

            var expected = TensorNames.Expected(config).Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
            var tensors = new List<TensorView>(stored.Count);
            foreach (var (file, t) in stored)
            {
                if (HfTensorNames.IsIgnorable(t.Name)) continue;
                string? name = HfTensorNames.ToCanonical(t.Name);
                // A tied checkpoint may still store lm_head as a copy of the embedding; the embedding is authoritative.
                if (name == TensorNames.Output && config.TiedClassifier) continue;
                if (name is null || !expected.Contains(name))
                    throw ModelFormatException.ForTensor(file.Path, t.Name,
                        $"is not part of a {config.LayerCount}-layer LlamaForCausalLM (another architecture, or a config.json that does not match the weights)");
                tensors.Add(new TensorView(name, t.Shape, t.Type, file.At(t.Offset, t.ByteLength, $"tensor '{t.Name}'")));
            }
            string format = files.Count == 1 ? "safetensors" : $"safetensors ({files.Count} shards)";
            return new ModelCheckpoint(directory, format, config, tensors, [.. files], storedName: HfTensorNames.ToStored).Validate();
        }
        catch
        {
            foreach (var file in files) file.Dispose();
            throw;
        }
    }

    private static List<(MappedFile File, SafetensorsTensor Tensor)> ReadSingle(string directory, List<MappedFile> files)
    {
        var file = MappedFile.Open(Path.Combine(directory, SingleFile));
        files.Add(file);
        return SafetensorsFile.ReadHeader(file).ConvertAll(t => (file, t));
    }

    /// <summary>
    /// Opens every shard the index names and checks the index and the shards agree both ways: each listed
    /// tensor is in its shard, and each shard tensor is listed (a stale index means mixed-up checkpoints).
    /// </summary>
    private static List<(MappedFile File, SafetensorsTensor Tensor)> ReadSharded(string directory, List<MappedFile> files)
    {
        string indexPath = Path.Combine(directory, IndexFile);
        var weightMap = ReadWeightMap(indexPath);
        var result = new List<(MappedFile, SafetensorsTensor)>(weightMap.Count);
        foreach (var shardName in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            string shardPath = Path.Combine(directory, shardName);
            if (!File.Exists(shardPath))
                throw ModelFormatException.ForSetting(indexPath, "weight_map", $"names shard '{shardName}', which is not in {directory}");
            var file = MappedFile.Open(shardPath);
            files.Add(file);
            var shardTensors = SafetensorsFile.ReadHeader(file);
            foreach (var t in shardTensors)
            {
                if (weightMap.GetValueOrDefault(t.Name) != shardName)
                    throw ModelFormatException.ForTensor(shardPath, t.Name,
                        $"is in this shard but {IndexFile} places it in '{weightMap.GetValueOrDefault(t.Name) ?? "no shard"}' (stale index?)");
                result.Add((file, t));
            }
        }
        if (result.Count != weightMap.Count)
        {
            var present = result.Select(r => r.Item2.Name).ToHashSet(StringComparer.Ordinal);
            var (name, shard) = weightMap.First(kv => !present.Contains(kv.Key));
            throw ModelFormatException.ForTensor(indexPath, name, $"is listed in shard '{shard}' but that shard does not contain it (truncated download?)");
        }
        return result;
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        using var document = JsonFile.Read(indexPath, MaxIndexBytes);
        if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw ModelFormatException.ForSetting(indexPath, "weight_map", "is missing or not an object of tensor name → shard file");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in map.EnumerateObject())
        {
            string? shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
            // Shards must sit beside the index: a path could point anywhere on the disk.
            if (shard is null || shard != Path.GetFileName(shard) || !shard.EndsWith(".safetensors", StringComparison.Ordinal))
                throw ModelFormatException.ForTensor(indexPath, entry.Name,
                    $"maps to {entry.Value.GetRawText()}, which is not a .safetensors file name in the model directory");
            if (!result.TryAdd(entry.Name, shard))
                throw ModelFormatException.ForTensor(indexPath, entry.Name, "appears twice in weight_map");
        }
        return result;
    }
}
