using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Functional.AD.Testing;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// Tree.Save / Tree.Load in the safetensors format. The oracles are byte arrays laid out by hand as the format's
/// specification says (8-byte little-endian header length; a JSON header of dtype, shape and data_offsets plus an
/// optional string-to-string __metadata__; padding with spaces; little-endian row-major data), never bytes made by
/// our own writer, and an independent reader of our writer's output written in this file.
/// </summary>
public sealed class CheckpointTests
{
    public sealed record Layer(Tensor W, Tensor B);
    public sealed record Net(Layer L0, Layer L1, double Scale, int Width, string Name, bool Frozen, DType Kind);
    public sealed record Pair(Tensor W, Tensor b);
    public sealed record Xor(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

    static string TempFile() => Path.Combine(Path.GetTempPath(), $"fad-ckpt-{Guid.NewGuid():N}.safetensors");

    /// <summary>A safetensors file built byte by byte: header text given literally, padded with spaces to <paramref name="pad"/>.</summary>
    static byte[] HandBuilt(string header, byte[] data, int pad = 8)
    {
        var h = Encoding.UTF8.GetBytes(header);
        int n = (h.Length + pad - 1) / pad * pad;
        var file = new byte[8 + n + data.Length];
        for (int i = 0; i < 8; i++) file[i] = (byte)((ulong)n >> (8 * i));      // u64 little-endian, by hand
        h.CopyTo(file, 8);
        for (int i = 8 + h.Length; i < 8 + n; i++) file[i] = 0x20;
        data.CopyTo(file, 8 + n);
        return file;
    }

    static byte[] F32Bytes(params float[] v) => v.SelectMany(x => { var b = BitConverter.GetBytes(x); if (!BitConverter.IsLittleEndian) Array.Reverse(b); return b; }).ToArray();
    static byte[] F64Bytes(params double[] v) => v.SelectMany(x => { var b = BitConverter.GetBytes(x); if (!BitConverter.IsLittleEndian) Array.Reverse(b); return b; }).ToArray();

    // ------------------------------------------------------------------ reading files laid out by the specification

    [Fact]
    public void A_hand_built_file_loads_with_its_names_shapes_dtypes_and_row_major_values()
    {
        // W: float32 2x3 at [0, 24); b: float64 [2] at [24, 40); metadata as PyTorch writes it.
        var header = """{"W":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F64","shape":[2],"data_offsets":[24,40]},"__metadata__":{"format":"pt"}}""";
        var bytes = HandBuilt(header, [.. F32Bytes(1, 2, 3, 4, 5, 6), .. F64Bytes(-0.5, 1e-300)]);
        var p = Tree.FromSafetensors<Pair>(bytes);
        Assert.Equal(DType.Float32, p.W.DType);
        Assert.Equal(new[] { 2, 3 }, p.W.Shape);
        Assert.Equal(4.0, p.W.Item(1, 0));                      // row-major: second row starts with the fourth value
        Assert.Equal(3.0, p.W.Item(0, 2));
        Assert.Equal(DType.Float64, p.b.DType);
        Assert.Equal(new[] { -0.5, 1e-300 }, p.b.ToDoubleArray());
    }

    [Fact]
    public void A_file_laid_out_as_the_reference_writer_does_loads_unpadded_and_padded_headers_alike()
    {
        // The reference (Rust/Python) writer puts __metadata__ first, orders tensors by dtype alignment then name,
        // and pads the header with spaces to a multiple of 8; an unpadded header is also valid.
        var header = """{"__metadata__":{"format":"pt"},"B1":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"B2":{"dtype":"F32","shape":[],"data_offsets":[8,12]},"W1":{"dtype":"F32","shape":[2,2],"data_offsets":[12,28]},"W2":{"dtype":"F32","shape":[2,1],"data_offsets":[28,36]}}""";
        var data = F32Bytes(0.1f, 0.2f, 0.3f, 1, 2, 3, 4, 5, 6);
        foreach (var pad in new[] { 1, 8 })
        {
            var x = Tree.FromSafetensors<Xor>(HandBuilt(header, data, pad));
            Assert.Equal(new[] { 1f, 2, 3, 4 }, x.W1.ToFloatArray());
            Assert.Equal(new[] { 2, 2 }, x.W1.Shape);
            Assert.Equal(new[] { 0.1f, 0.2f }, x.B1.ToFloatArray());
            Assert.Equal(0, x.B2.Rank);
            Assert.Equal(0.3f, x.B2.ToFloatArray()[0]);
            Assert.Equal(new[] { 2, 1 }, x.W2.Shape);
            Assert.Equal(new[] { 5f, 6 }, x.W2.ToFloatArray());
        }
    }

    // ------------------------------------------------------------------ our writer, read back by an independent reader

    [Fact]
    public void Save_writes_the_specified_layout_byte_for_byte()
    {
        var net = new Net(new Layer(new Tensor(new float[,] { { 1, 2 }, { 3, 4 } }), new Tensor(new double[] { 5, 6 })),
                          new Layer(new Tensor(new float[] { 7 }), new Tensor(new float[] { 8, 9, 10 })), 0.25, 3, "mlp", true, DType.Float64);
        var path = TempFile();
        try
        {
            Tree.Save(path, net);
            var bytes = File.ReadAllBytes(path);
            ulong n = 0;
            for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
            Assert.Equal(0UL, n % 8);                                             // data starts 8-aligned
            var headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
            Assert.StartsWith("{", headerText);
            Assert.True(headerText.TrimEnd(' ').EndsWith('}'));                   // padding is spaces only
            using var doc = JsonDocument.Parse(headerText);
            var meta = doc.RootElement.GetProperty("__metadata__");
            Assert.Equal("Functional.AD.Properties.CheckpointTests.Net", meta.GetProperty("functional.ad.type").GetString());
            Assert.Equal("3", meta.GetProperty("functional.ad.static.Width").GetString());
            Assert.Equal("mlp", meta.GetProperty("functional.ad.static.Name").GetString());
            Assert.Equal("true", meta.GetProperty("functional.ad.static.Frozen").GetString());
            Assert.Equal("Float64", meta.GetProperty("functional.ad.static.Kind").GetString());

            var expected = new Dictionary<string, (string DType, int[] Shape, byte[] Data)>
            {
                ["L0.W"] = ("F32", [2, 2], F32Bytes(1, 2, 3, 4)),
                ["L0.B"] = ("F64", [2], F64Bytes(5, 6)),
                ["L1.W"] = ("F32", [1], F32Bytes(7)),
                ["L1.B"] = ("F32", [3], F32Bytes(8, 9, 10)),
                ["Scale"] = ("F64", [], F64Bytes(0.25)),
            };
            var names = doc.RootElement.EnumerateObject().Select(p => p.Name).Where(k => k != "__metadata__").ToHashSet();
            Assert.Equal(expected.Keys.ToHashSet(), names);
            long covered = 0;
            foreach (var (name, (dtype, shape, data)) in expected)
            {
                var e = doc.RootElement.GetProperty(name);
                Assert.Equal(dtype, e.GetProperty("dtype").GetString());
                Assert.Equal(shape, e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray());
                var off = e.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                Assert.Equal(data.Length, off[1] - off[0]);
                Assert.Equal(0, off[0] % (dtype == "F64" ? 8 : 4));                // each tensor aligned to its element size
                Assert.Equal(data, bytes.AsSpan((int)(8 + (long)n + off[0]), data.Length).ToArray());
                covered += data.Length;
            }
            Assert.Equal(bytes.Length - 8 - (long)n, covered);                     // nothing but tensor data after the header

            var back = Tree.Load<Net>(path);
            Assert.Equal((0.25, 3, "mlp", true, DType.Float64), (back.Scale, back.Width, back.Name, back.Frozen, back.Kind));
            Assert.Equal(DType.Float64, back.L0.B.DType);
            Assert.Equal(new[] { 8f, 9, 10 }, back.L1.B.ToFloatArray());
        }
        finally { File.Delete(path); }
    }

    // ------------------------------------------------------------------ round trips

    static Gen<Tensor> AnyTensor =>
        from dtype in Gen.Elements(DType.Float32, DType.Float64)
        from t in Gens.Tensor(dtype, Domain.Any, 0, 3)
        select t;

    [Property(MaxTest = 60)]
    public Property Every_dtype_round_trips_bit_for_bit_with_its_shape() =>
        Prop.ForAll((from a in AnyTensor from b in AnyTensor from c in AnyTensor from d in AnyTensor select new Xor(a, b, c, d)).ToArbitrary(), x =>
        {
            var back = Tree.FromSafetensors<Xor>(Tree.ToSafetensors(x));
            foreach (var (want, got) in Tree.Zip(x, back))
            {
                Assert.Equal(want.DType, got.DType);
                Assert.Equal(want.Shape, got.Shape);
                if (want.DType == DType.Float64) Assert.Equal(want.ToDoubleArray(), got.ToDoubleArray());
                else Assert.Equal(want.ToFloatArray(), got.ToFloatArray());
            }
        });

    [Fact]
    public void Special_values_and_empty_tensors_round_trip()
    {
        var x = new Xor(new Tensor(new[] { float.NaN, float.PositiveInfinity, -0f, float.Epsilon }), new Tensor(new double[0]),
                        new Tensor(new[] { double.NegativeInfinity, double.MaxValue, -0.0 }), Tensor.Scalar(1, DType.Float32));
        var back = Tree.FromSafetensors<Xor>(Tree.ToSafetensors(x));
        Assert.Equal(x.W1.ToFloatArray().Select(BitConverter.SingleToInt32Bits), back.W1.ToFloatArray().Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(0, back.B1.Size);
        Assert.Equal(new[] { 0 }, back.B1.Shape);
        Assert.Equal(x.W2.ToDoubleArray().Select(BitConverter.DoubleToInt64Bits), back.W2.ToDoubleArray().Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Parameters_and_Adam_state_round_trip_and_training_resumes_identically()
    {
        var p = Tree.Normal(PrngKey.Create(3), new Xor(Np.Zeros([2, 2]), Np.Zeros([2]), Np.Zeros([2, 1]), Np.Zeros([1])), 0.5);
        var state = Optim.AdamInit(p);
        var adam = Optim.Adam<Xor>(0.05).Compile();
        var g = Tree.Map(w => w * 0.3 + 0.1, p);
        (p, state) = adam(p, g, state);
        var path = TempFile();
        try
        {
            Tree.Save(path, (p, state));
            var (p2, state2) = Tree.Load<(Xor, AdamState<Xor>)>(path);
            Assert.Equal(1.0, (double)state2.Step);
            var a = adam(p, g, state);
            var b = adam(p2, g, state2);
            Assert.Equal(Tree.Leaves(a).Count, Tree.Leaves(b).Count);
            foreach (var (x, y) in Tree.Zip(a, b)) Assert.Equal(x.ToDoubleArray(), y.ToDoubleArray());
            Assert.Contains("State.M.W1", TensorNames(File.ReadAllBytes(path)).Select(n => n.Replace("Item2", "State")));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Tuple_trees_are_named_by_their_item_paths_and_a_single_leaf_by_value()
    {
        var names = TensorNames(Tree.ToSafetensors((new Layer(Np.Ones([2]), Np.Zeros([1])), 2.0)));
        Assert.Equal(new[] { "Item1.B", "Item1.W", "Item2" }, names.Order().ToArray());
        Assert.Equal(new[] { "value" }, TensorNames(Tree.ToSafetensors(Np.Ones([3]))));
        Assert.Equal(new[] { 1.0, 1, 1 }, Tree.FromSafetensors<Tensor>(Tree.ToSafetensors(Np.Ones([3]))).ToDoubleArray());
    }

    static string[] TensorNames(byte[] file)
    {
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var doc = JsonDocument.Parse(file.AsMemory(8, n));
        return doc.RootElement.EnumerateObject().Select(p => p.Name).Where(k => k != "__metadata__").ToArray();
    }

    // ------------------------------------------------------------------ errors name the leaf

    static CheckpointException LoadFails<T>(byte[] bytes) => Assert.Throws<CheckpointException>(() => Tree.FromSafetensors<T>(bytes));

    [Fact]
    public void A_missing_tensor_is_named_with_what_the_file_holds()
    {
        var bytes = HandBuilt("""{"W":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", F32Bytes(1));
        var e = LoadFails<Pair>(bytes);
        Assert.Contains("no tensor 'b'", e.Message);
        Assert.Contains("'W'", e.Message);
    }

    [Fact]
    public void An_unexpected_tensor_is_named()
    {
        var bytes = Tree.ToSafetensors(new Xor(Np.Ones([1]), Np.Ones([1]), Np.Ones([1]), Np.Ones([1])));
        var e = Assert.Throws<CheckpointException>(() => Tree.FromSafetensors<Layer>(bytes));
        Assert.Contains("no tensor 'W'", e.Message);
        Assert.Contains("saved from Functional.AD.Properties.CheckpointTests.Xor", e.Message);
        var bytes2 = HandBuilt("""{"W":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"extra":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", F32Bytes(1, 2, 3));
        Assert.Contains("'extra'", LoadFails<Pair>(bytes2).Message);
    }

    [Fact]
    public void An_unsupported_dtype_names_the_tensor_and_the_dtypes_read()
    {
        var bytes = HandBuilt("""{"W":{"dtype":"U16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8]);
        var e = LoadFails<Pair>(bytes);
        Assert.Contains("'W'", e.Message);
        Assert.Contains("U16", e.Message);
        Assert.Contains("F32", e.Message);
    }

    /// <summary>Every dtype round-trips through a checkpoint with its bits, and is written under its safetensors name.</summary>
    [Fact]
    public void Every_dtype_round_trips_through_a_checkpoint()
    {
        var tree = (new Tensor(new[] { 1, -2, int.MaxValue }), new Tensor(new[] { 1L << 40 }), new Tensor(new[] { true, false }),
            new Tensor(new[] { (Half)1.5, (Half)(-0.1) }), new Tensor(new[] { (BFloat16)3.25f }), Np.Ones([2], DType.Float64), Np.Ones([1]));
        var path = Path.Combine(Path.GetTempPath(), $"dtypes-{Guid.NewGuid():N}.safetensors");
        Tree.Save(path, tree);
        var text = System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(path));
        foreach (var name in new[] { "\"I32\"", "\"I64\"", "\"BOOL\"", "\"F16\"", "\"BF16\"", "\"F64\"", "\"F32\"" }) Assert.Contains(name, text);
        var back = Tree.Load<(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)>(path);
        File.Delete(path);
        Assert.Equal(tree.Item1.ToArray<int>(), back.Item1.ToArray<int>());
        Assert.Equal(tree.Item2.ToArray<long>(), back.Item2.ToArray<long>());
        Assert.Equal(tree.Item3.ToArray<bool>(), back.Item3.ToArray<bool>());
        Assert.Equal(tree.Item4.ToArray<Half>(), back.Item4.ToArray<Half>());
        Assert.Equal(DType.BFloat16, back.Item5.DType);
        Assert.Equal(3.25, back.Item5.Item(0));
    }

    [Fact]
    public void A_template_with_other_shapes_or_dtypes_is_reported_per_leaf()
    {
        var path = TempFile();
        try
        {
            Tree.Save(path, new Layer(Np.Ones([2, 3]), Np.Ones([3])));
            var e = Assert.Throws<CheckpointException>(() => Tree.Load(path, new Layer(Np.Ones([3, 2]), Np.Ones([3]))));
            Assert.Contains("'W'", e.Message);
            Assert.Contains("2,3", e.Message.Replace(" ", ""));
            var e2 = Assert.Throws<CheckpointException>(() => Tree.Load(path, new Layer(Np.Ones([2, 3]), Np.Ones([3]).AsType(DType.Float64))));
            Assert.Contains("'B'", e2.Message);
            Assert.Equal(new[] { 2, 3 }, Tree.Load(path, new Layer(Np.Zeros([2, 3]), Np.Zeros([3]))).W.Shape);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_scalar_leaf_needs_a_rank_0_tensor_and_a_static_leaf_its_metadata()
    {
        var scalar = HandBuilt("""{"L0.W":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"L0.B":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"L1.W":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"L1.B":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"Scale":{"dtype":"F64","shape":[2],"data_offsets":[16,32]}}""",
            new byte[32]);
        var e = LoadFails<Net>(scalar);
        Assert.Contains("'Scale'", e.Message);
        Assert.Contains("rank-0", e.Message);
        var noStatic = HandBuilt("""{"Item1.W":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"Item1.B":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", F32Bytes(1, 2));
        var e2 = Assert.Throws<CheckpointException>(() => Tree.FromSafetensors<(Layer, int)>(noStatic));
        Assert.Contains("'Item2'", e2.Message);
    }

    [Theory]
    [InlineData("""{"W":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12, "gaps")]
    [InlineData("""{"W":{"dtype":"F32","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "needs 8 bytes")]
    [InlineData("""{"W":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 12, "cover 8 bytes")]
    [InlineData("""{"W":{"dtype":"F32","shape":[1]}}""", 4, "not the JSON")]
    [InlineData("""[1, 2]""", 0, "not an object")]
    [InlineData("""{"W":""", 0, "not the JSON")]
    public void Malformed_files_are_rejected_with_the_rule_they_break(string header, int dataBytes, string expected)
    {
        var e = LoadFails<Pair>(HandBuilt(header, new byte[dataBytes]));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_header_length_past_the_end_of_the_file_is_rejected()
    {
        var bytes = new byte[16];
        bytes[0] = 200;
        Assert.Contains("header length 200", LoadFails<Pair>(bytes).Message);
        Assert.Contains("too short", LoadFails<Pair>(new byte[3]).Message);
    }
}
