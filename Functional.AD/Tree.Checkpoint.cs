using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Functional.AD;

/// <summary>
/// A checkpoint file that cannot be written or read as the pytree type asked for: a missing or unexpected tensor,
/// a shape or dtype that does not match, a static leaf absent from the metadata, or bytes that are not a
/// safetensors file. The message names the leaf (its pytree path, such as <c>Inner.W</c>) and the file.
/// </summary>
/// <example><code>
/// try { var p = Tree.Load&lt;Params&gt;("model.safetensors"); }
/// catch (CheckpointException e) { Console.Error.WriteLine(e.Message); }   // "... has no tensor 'W2' ..."
/// </code></example>
public sealed class CheckpointException : AdException
{
    /// <summary>Creates the exception with its message.</summary>
    /// <param name="message">What is wrong, naming the leaf and the file.</param>
    /// <param name="inner">The underlying I/O or JSON error, if any.</param>
    public CheckpointException(string message, Exception? inner = null) : base(message, inner) { }
}

public static partial class Tree
{
    /// <summary>The <c>__metadata__</c> key holding the C# name of the saved tree's type.</summary>
    public const string TypeMetadataKey = "functional.ad.type";

    /// <summary>The prefix of the <c>__metadata__</c> keys holding static leaves (int, long, bool, string, enum) by path.</summary>
    public const string StaticMetadataPrefix = "functional.ad.static.";

    /// <summary>The tensor name used when the whole tree is a single leaf (a <see cref="Tensor"/>, double or float).</summary>
    public const string RootLeafName = "value";

    /// <summary>
    /// Saves the tree's floating leaves to <paramref name="path"/> in the safetensors format: an 8-byte little-endian
    /// header length, a JSON header (padded with spaces to a multiple of 8 bytes) giving each tensor's
    /// <c>dtype</c> (<c>F32</c>, <c>F64</c>, <c>F16</c>, <c>BF16</c>, <c>I32</c>, <c>I64</c> or <c>BOOL</c>), <c>shape</c> and <c>data_offsets</c>, then the data, little-endian and
    /// row-major. Tensors are named by their pytree paths (<c>W1</c>, <c>Inner.B</c>, <c>M.W1</c> for an
    /// <see cref="AdamState{T}"/>); a double or float leaf is a rank-0 tensor of its dtype. <c>__metadata__</c> holds
    /// the tree's C# type under <see cref="TypeMetadataKey"/> and each static leaf under
    /// <see cref="StaticMetadataPrefix"/> plus its path. Files written here load in PyTorch
    /// (<c>safetensors.torch.load_file</c>) and other safetensors readers.
    /// </summary>
    /// <typeparam name="T">The pytree type (a record, ValueTuple or single leaf).</typeparam>
    /// <param name="path">The file to write (replaced if it exists).</param>
    /// <param name="tree">The parameters, optimizer state, or any pytree.</param>
    /// <example><code>
    /// record Params(Tensor W1, Tensor B1, Tensor W2, Tensor B2);
    /// Tree.Save("xor.safetensors", trained);
    /// var back = Tree.Load&lt;Params&gt;("xor.safetensors");        // same shapes, dtypes and values
    /// Tree.Save("adam.safetensors", (trained, state));           // parameters and optimizer state together
    /// </code></example>
    public static void Save<T>(string path, T tree)
    {
        ArgumentNullException.ThrowIfNull(path);
        File.WriteAllBytes(path, ToSafetensors(tree));
    }

    /// <summary>
    /// Loads a tree of type <typeparamref name="T"/> from a safetensors file: each floating leaf is read from the
    /// tensor named by its path, with the dtype and shape stored there; static leaves come from <c>__metadata__</c>.
    /// Throws <see cref="CheckpointException"/> naming the leaf when a tensor is missing, a tensor in the file has no
    /// leaf in <typeparamref name="T"/>, a double or float leaf is not rank 0, a dtype is not one of F32, F64, F16, BF16, I32, I64, BOOL, or the file is
    /// not laid out as the safetensors format says.
    /// </summary>
    /// <typeparam name="T">The pytree type to rebuild.</typeparam>
    /// <param name="path">A file written by <see cref="Save{T}(string, T)"/>, PyTorch or any safetensors writer.</param>
    /// <returns>The tree.</returns>
    /// <example><code>
    /// var p = Tree.Load&lt;Params&gt;("model.safetensors");
    /// var (q, state) = Tree.Load&lt;(Params, AdamState&lt;Params&gt;)&gt;("adam.safetensors");
    /// </code></example>
    public static T Load<T>(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { throw new CheckpointException($"Tree.Load<{Printer.TypeName(typeof(T))}>(\"{path}\"): cannot read the file: {e.Message}", e); }
        return FromSafetensors<T>(bytes, path);
    }

    /// <summary>
    /// Like <see cref="Load{T}(string)"/>, and also checks every floating leaf against <paramref name="like"/>: the
    /// same shape and dtype, else a <see cref="CheckpointException"/> naming the leaf and both avals.
    /// </summary>
    /// <typeparam name="T">The pytree type to rebuild.</typeparam>
    /// <param name="path">The safetensors file.</param>
    /// <param name="like">A tree with the expected shapes and dtypes (its values are not used).</param>
    /// <returns>The tree.</returns>
    /// <example><code>
    /// var p = Tree.Load("model.safetensors", like: Init(key));     // fails if the file holds another architecture
    /// </code></example>
    public static T Load<T>(string path, T like)
    {
        var loaded = Load<T>(path);
        var names = LeafNames(typeof(T));
        var want = Leaves(like);
        var got = Leaves(loaded);
        var floating = names.Where(n => n.Kind != Kind.Static).ToArray();
        for (int i = 0; i < want.Count; i++)
        {
            if (!want[i].Shape.SequenceEqual(got[i].Shape) || want[i].DType != got[i].DType)
                throw new CheckpointException(
                    $"Tree.Load<{Printer.TypeName(typeof(T))}>(\"{path}\", like): leaf '{floating[i].Name}' is {got[i].Aval} in the file " +
                    $"but {want[i].Aval} in the template; a file saved from a tree of the template's shapes and dtypes would be accepted.");
        }
        return loaded;
    }

    /// <summary>The safetensors bytes <see cref="Save{T}(string, T)"/> writes for <paramref name="tree"/>.</summary>
    /// <typeparam name="T">The pytree type.</typeparam>
    /// <param name="tree">The tree.</param>
    /// <returns>The whole file's contents.</returns>
    /// <example><code>
    /// byte[] file = Tree.ToSafetensors(p);      // e.g. to send over a stream
    /// var q = Tree.FromSafetensors&lt;Params&gt;(file);
    /// </code></example>
    public static byte[] ToSafetensors<T>(T tree)
    {
        var leaves = Flat(tree, out var def);
        var info = LeafNames(typeof(T));
        var tensors = new List<(string Name, Tensor T)>();
        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [TypeMetadataKey] = QualifiedName(typeof(T)),
        };
        for (int i = 0; i < leaves.Count; i++)
        {
            if (info[i].Kind == Kind.Static)
                metadata[StaticMetadataPrefix + info[i].Name] = StaticToString(leaves[i], info[i].Name, typeof(T));
            else
                tensors.Add((info[i].Name, AsTensor(leaves[i])));
        }
        // wider dtypes first (stable), so every tensor starts at a multiple of its element size, as the reference writer does
        var ordered = tensors.OrderByDescending(t => DTypes.ItemSize(t.T.DType)).ToArray();

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            foreach (var (k, v) in metadata) w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            foreach (var (name, t) in ordered)
            {
                long n = (long)t.Size * DTypes.ItemSize(t.DType);
                w.WriteStartObject(name);
                w.WriteString("dtype", SafetensorsName(t.DType));
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + n);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += n;
            }
            w.WriteEndObject();
        }
        var header = json.ToArray();
        int padded = (header.Length + 7) / 8 * 8;
        long dataLength = ordered.Sum(t => (long)t.T.Size * DTypes.ItemSize(t.T.DType));
        var file = new byte[8 + padded + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        header.CopyTo(file, 8);
        for (int i = 8 + header.Length; i < 8 + padded; i++) file[i] = (byte)' ';
        int at = 8 + padded;
        foreach (var (_, t) in ordered)
        {
            // the elements' bytes as they are in memory: little-endian on every platform .NET runs this library on
            var raw = t.HostArray();
            var bytesOf = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(
                ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(raw), raw.Length * DTypes.ItemSize(t.DType));
            bytesOf.CopyTo(file.AsSpan(at));
            at += bytesOf.Length;
        }
        return file;
    }

    /// <summary>Reads a tree from safetensors bytes, as <see cref="Load{T}(string)"/> reads a file.</summary>
    /// <typeparam name="T">The pytree type to rebuild.</typeparam>
    /// <param name="bytes">The whole file's contents.</param>
    /// <returns>The tree.</returns>
    /// <example><code>
    /// var q = Tree.FromSafetensors&lt;Params&gt;(File.ReadAllBytes("model.safetensors"));
    /// </code></example>
    public static T FromSafetensors<T>(byte[] bytes) => FromSafetensors<T>(bytes, "<bytes>");

    static T FromSafetensors<T>(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        string where = $"Tree.Load<{Printer.TypeName(typeof(T))}>(\"{source}\")";
        var (entries, metadata, dataStart) = ReadHeader(bytes, where);
        var def = TreeDef.Of(typeof(T));
        var info = LeafNames(typeof(T));
        string savedType = metadata.TryGetValue(TypeMetadataKey, out var st) ? $" (the file was saved from {st})" : "";
        var used = new HashSet<string>(StringComparer.Ordinal);
        var leaves = new List<object?>();
        foreach (var (kind, type, name) in info)
        {
            if (kind == Kind.Static)
            {
                if (!metadata.TryGetValue(StaticMetadataPrefix + name, out var text))
                    throw new CheckpointException($"{where}: static leaf '{name}' ({Printer.TypeName(type)}) has no entry " +
                        $"'{StaticMetadataPrefix}{name}' in __metadata__{savedType}; files written by Tree.Save from a {Printer.TypeName(typeof(T))} carry it.");
                leaves.Add(StaticFromString(text, type, name, where));
                continue;
            }
            if (!entries.TryGetValue(name, out var e))
                throw new CheckpointException($"{where}: the file has no tensor '{name}' for leaf '{name}' of {Printer.TypeName(typeof(T))}{savedType}. " +
                    $"It holds: {string.Join(", ", entries.Keys.Select(k => $"'{k}'"))}.");
            used.Add(name);
            var t = ReadTensor(bytes, dataStart, e);
            if (type != typeof(Tensor) && t.Rank != 0)
                throw new CheckpointException($"{where}: leaf '{name}' is a {Printer.TypeName(type)}, so a rank-0 tensor is expected, but the file holds {t.Aval}.");
            leaves.Add(Back(type == typeof(Tensor) ? t : t.AsType(type == typeof(double) ? DType.Float64 : DType.Float32), type, name));
        }
        var extra = entries.Keys.Where(k => !used.Contains(k)).ToArray();
        if (extra.Length > 0)
            throw new CheckpointException($"{where}: the file holds tensor(s) {string.Join(", ", extra.Select(k => $"'{k}'"))} that are not leaves of " +
                $"{Printer.TypeName(typeof(T))}{savedType}; its floating leaves are {string.Join(", ", info.Where(i => i.Kind != Kind.Static).Select(i => $"'{i.Name}'"))}.");
        int pos = 0;
        return (T)def.Unflatten(leaves, ref pos)!;
    }

    sealed record Entry(string Name, string DType, int[] Shape, long Begin, long End);

    static (Dictionary<string, Entry> Entries, Dictionary<string, string> Metadata, long DataStart) ReadHeader(byte[] bytes, string where)
    {
        if (bytes.Length < 8)
            throw new CheckpointException($"{where}: {bytes.Length} bytes is too short for a safetensors file (8-byte header length, JSON header, data).");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n > (ulong)(bytes.Length - 8) || n < 2)
            throw new CheckpointException($"{where}: the header length {n} read from the first 8 bytes (little-endian) does not fit in a file of {bytes.Length} bytes; not a safetensors file.");
        long dataStart = 8 + (long)n;
        long dataLength = bytes.Length - dataStart;
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{where}: the JSON header is not an object.");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    foreach (var m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new CheckpointException($"{where}: __metadata__ entry '{m.Name}' is not a string (the format allows only string values).");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                if (entries.ContainsKey(p.Name))
                    throw new CheckpointException($"{where}: tensor '{p.Name}' appears twice in the header.");
                var dtype = p.Value.GetProperty("dtype").GetString() ?? "";
                var shape = p.Value.GetProperty("shape").EnumerateArray().Select(d => checked((int)d.GetInt64())).ToArray();
                var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                if (offsets.Length != 2 || shape.Any(d => d < 0))
                    throw new CheckpointException($"{where}: tensor '{p.Name}' has data_offsets [{string.Join(", ", offsets)}] and shape [{string.Join(", ", shape)}]; " +
                        "expected two offsets [begin, end] and non-negative dimensions.");
                entries[p.Name] = new Entry(p.Name, dtype, shape, offsets[0], offsets[1]);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or OverflowException or ArgumentException)
        {
            throw new CheckpointException($"{where}: the {n}-byte header is not the JSON the safetensors format specifies " +
                "({\"name\": {\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]}, \"__metadata__\": {...}}): " + e.Message, e);
        }
        // the tensors' byte ranges must tile the data exactly: no overlap, no hole, nothing past the end
        long expectedBegin = 0;
        foreach (var e in entries.Values.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != expectedBegin || e.End < e.Begin)
                throw new CheckpointException($"{where}: tensor '{e.Name}' has data_offsets [{e.Begin}, {e.End}] but the previous tensor ends at {expectedBegin}; " +
                    "the format requires the tensors to cover the data without gaps or overlaps.");
            long elements = e.Shape.Aggregate(1L, (a, d) => a * d);
            long itemSize = ItemSizeOf(e.DType);
            if (itemSize > 0 && elements * itemSize != e.End - e.Begin)
                throw new CheckpointException($"{where}: tensor '{e.Name}' ({e.DType}, shape [{string.Join(", ", e.Shape)}]) needs {elements * itemSize} bytes " +
                    $"but its data_offsets [{e.Begin}, {e.End}] span {e.End - e.Begin}.");
            expectedBegin = e.End;
        }
        if (expectedBegin != dataLength)
            throw new CheckpointException($"{where}: the tensors cover {expectedBegin} bytes of data but the file has {dataLength} after the header.");
        return (entries, metadata, dataStart);
    }

    /// <summary>The safetensors name of a dtype.</summary>
    static string SafetensorsName(DType d) => d switch
    {
        DType.Float64 => "F64",
        DType.Float32 => "F32",
        DType.Int32 => "I32",
        DType.Int64 => "I64",
        DType.Bool => "BOOL",
        DType.Float16 => "F16",
        _ => "BF16",
    };

    static long ItemSizeOf(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    static Tensor ReadTensor(byte[] bytes, long dataStart, Entry e)
    {
        int count = checked((int)e.Shape.Aggregate(1L, (a, d) => a * d));
        var span = bytes.AsSpan(checked((int)(dataStart + e.Begin)), checked((int)(e.End - e.Begin)));
        DType? dt = e.DType switch
        {
            "F64" => DType.Float64,
            "F32" => DType.Float32,
            "I32" => DType.Int32,
            "I64" => DType.Int64,
            "BOOL" => DType.Bool,
            "F16" => DType.Float16,
            "BF16" => DType.BFloat16,
            _ => null,
        };
        if (dt is not DType d)
            throw new CheckpointException($"Tree.Load: tensor '{e.Name}' has dtype {e.DType}; Functional.AD reads F64, F32, F16, BF16, I64, I32 and BOOL. " +
                "Convert it before saving (for example tensor.float() in PyTorch).");
        var data = Elements.New(d, count);
        span[..(count * DTypes.ItemSize(d))].CopyTo(System.Runtime.InteropServices.MemoryMarshal.CreateSpan(
            ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(data), count * DTypes.ItemSize(d)));
        return Tensor.Adopt(data, Aval.Intern(e.Shape, d, false));
    }

    /// <summary>Each leaf's kind, type and safetensors name (its path without the leading dot, or <see cref="RootLeafName"/>).</summary>
    static (Kind Kind, Type Type, string Name)[] LeafNames(Type t) =>
        TreeDef.Of(t).LeafInfo("").Select(i => (i.Kind, i.Type, i.Path.Length == 0 ? RootLeafName : i.Path[1..])).ToArray();

    /// <summary>The namespace-qualified C# spelling of a type: <c>Functional.AD.AdamState&lt;MyApp.Params&gt;</c>, <c>(MyApp.Params, int)</c>.</summary>
    static string QualifiedName(Type t)
    {
        if (TreeDef.IsValueTuple(t)) return "(" + string.Join(", ", t.GetGenericArguments().Select(QualifiedName)) + ")";
        if (Kinds.Of(t) is not null || t.IsPrimitive || t == typeof(string)) return Printer.TypeName(t);
        var name = t.IsNested ? QualifiedName(t.DeclaringType!) + "." + t.Name : (t.Namespace is { } ns ? ns + "." : "") + t.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        return t.IsGenericType ? name + "<" + string.Join(", ", t.GetGenericArguments().Select(QualifiedName)) + ">" : name;
    }

    static string StaticToString(object? value, string name, Type tree) => value switch
    {
        null => throw new CheckpointException($"Tree.Save<{Printer.TypeName(tree)}>: static leaf '{name}' is null; a string leaf must not be null to be saved."),
        bool b => b ? "true" : "false",
        Enum e => e.ToString(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };

    static object StaticFromString(string text, Type type, string name, string where)
    {
        try
        {
            if (type == typeof(string)) return text;
            if (type == typeof(int)) return int.Parse(text, CultureInfo.InvariantCulture);
            if (type == typeof(long)) return long.Parse(text, CultureInfo.InvariantCulture);
            if (type == typeof(bool)) return bool.Parse(text);
            if (type.IsEnum) return Enum.Parse(type, text);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new CheckpointException($"{where}: static leaf '{name}' is a {Printer.TypeName(type)} but __metadata__ holds \"{text}\".", e);
        }
        throw new CheckpointException($"{where}: static leaf '{name}' has type {Printer.TypeName(type)}, which checkpoints do not store.");
    }
}
