using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>Tree.Map, Leaves, Zip, Ravel and Normal on records, tuples and nested pytrees with static leaves.</summary>
public sealed class TreeTests
{
    public sealed record Pair(Tensor A, Tensor B);
    public sealed record Tagged(Tensor W, int Id, Pair Inner, string Name, bool Frozen);
    public sealed record Mixed(Tensor F32, Tensor F64, int N, string S);
    public sealed record WithScalars(Tensor A, double D, float F, int N);

    static Tensor F32(params float[] v) => new(v);
    static Tensor F64(params double[] v) => new(v);

    static Tagged Sample() => new(
        new Tensor(new float[,] { { 1, 2 }, { 3, 4 } }), 7,
        new Pair(F64(5, 6, 7), F32(8)), "net", true);

    // ---------------------------------------------------------------- Map

    [Fact]
    public void Map_applies_the_function_to_every_floating_leaf_and_keeps_static_leaves()
    {
        var t = Sample();
        var m = Tree.Map(x => x * 2 + 1, t);
        Assert.Equal(new[] { 3.0, 5, 7, 9 }, m.W.ToDoubleArray());
        Assert.Equal(new[] { 2, 2 }, m.W.Shape);
        Assert.Equal(new[] { 11.0, 13, 15 }, m.Inner.A.ToDoubleArray());
        Assert.Equal(new[] { 17.0 }, m.Inner.B.ToDoubleArray());
        Assert.Equal((7, "net", true), (m.Id, m.Name, m.Frozen));
        Assert.Equal(DType.Float32, m.W.DType);
        Assert.Equal(DType.Float64, m.Inner.A.DType);
        // the input is not modified
        Assert.Equal(new[] { 1.0, 2, 3, 4 }, t.W.ToDoubleArray());
    }

    [Fact]
    public void Map_of_two_trees_combines_matching_leaves_and_takes_static_leaves_from_the_first()
    {
        var a = new Tagged(F32(1, 2), 1, new Pair(F64(3), F64(4)), "a", false);
        var b = new Tagged(F32(10, 20), 2, new Pair(F64(30), F64(40)), "b", true);
        var m = Tree.Map((p, g) => p - 0.5 * g, a, b);
        Assert.Equal(new[] { -4.0, -8 }, m.W.ToDoubleArray());
        Assert.Equal(new[] { -12.0 }, m.Inner.A.ToDoubleArray());
        Assert.Equal(new[] { -16.0 }, m.Inner.B.ToDoubleArray());
        Assert.Equal((1, "a", false), (m.Id, m.Name, m.Frozen));
    }

    [Fact]
    public void Map_over_a_ValueTuple_of_tensors()
    {
        var m = Tree.Map(x => -x, (F32(1, 2), (F64(3), F32(4))));
        Assert.Equal(new[] { -1.0, -2 }, m.Item1.ToDoubleArray());
        Assert.Equal(new[] { -3.0 }, m.Item2.Item1.ToDoubleArray());
        Assert.Equal(new[] { -4.0 }, m.Item2.Item2.ToDoubleArray());
    }

    [Fact]
    public void Map_over_double_and_float_leaves_keeps_them_double_and_float()
    {
        var m = Tree.Map(x => x * 2, new WithScalars(F32(1), 1.5, 2.5f, 3));
        Assert.Equal(3.0, m.D);
        Assert.Equal(5f, m.F);
        Assert.Equal(3, m.N);
        Assert.Equal(4.0, Tree.Map(x => x * 2, 2.0));
    }

    // ---------------------------------------------------------------- Leaves, Zip

    [Fact]
    public void Leaves_are_the_floating_leaves_depth_first_in_constructor_order()
    {
        var leaves = Tree.Leaves(Sample());
        Assert.Equal(3, leaves.Count);
        Assert.Equal(new[] { 1.0, 2, 3, 4 }, leaves[0].ToDoubleArray());
        Assert.Equal(new[] { 5.0, 6, 7 }, leaves[1].ToDoubleArray());
        Assert.Equal(new[] { 8.0 }, leaves[2].ToDoubleArray());
    }

    [Fact]
    public void Leaves_of_double_and_float_fields_are_scalar_tensors_of_their_dtype()
    {
        var leaves = Tree.Leaves(new WithScalars(F32(1), 1.5, 2.5f, 9));
        Assert.Equal(3, leaves.Count);   // the int is static
        Assert.Equal(0, leaves[1].Rank);
        Assert.Equal(DType.Float64, leaves[1].DType);
        Assert.Equal(1.5, (double)leaves[1]);
        Assert.Equal(DType.Float32, leaves[2].DType);
        Assert.Equal(2.5, (double)leaves[2]);
    }

    [Fact]
    public void Zip_pairs_matching_leaves_in_order()
    {
        var a = Sample();
        var b = Tree.Map(x => x * 10, a);
        var pairs = Tree.Zip(a, b).ToArray();
        Assert.Equal(3, pairs.Length);
        foreach (var (x, y) in pairs)
            Assert.Equal(x.ToDoubleArray().Select(v => v * 10), y.ToDoubleArray());
        Assert.Equal(new[] { 80.0 }, pairs[2].B.ToDoubleArray());
    }

    // ---------------------------------------------------------------- Ravel

    [Fact]
    public void Ravel_concatenates_leaves_in_order_and_unravel_restores_shapes_dtypes_and_static_leaves()
    {
        var t = Sample();
        var (flat, unravel) = Tree.Ravel(t);
        Assert.Equal(1, flat.Rank);
        Assert.Equal(DType.Float64, flat.DType);   // one float64 leaf makes the vector float64
        Assert.Equal(new[] { 1.0, 2, 3, 4, 5, 6, 7, 8 }, flat.ToDoubleArray());
        var back = unravel(flat);
        Assert.Equal(new[] { 2, 2 }, back.W.Shape);
        Assert.Equal(DType.Float32, back.W.DType);
        Assert.Equal(DType.Float64, back.Inner.A.DType);
        Assert.Equal(DType.Float32, back.Inner.B.DType);
        Assert.Equal(t.W.ToDoubleArray(), back.W.ToDoubleArray());
        Assert.Equal(t.Inner.A.ToDoubleArray(), back.Inner.A.ToDoubleArray());
        Assert.Equal((7, "net", true), (back.Id, back.Name, back.Frozen));
    }

    [Fact]
    public void Unravel_of_a_new_vector_puts_its_values_into_the_leaves()
    {
        var (_, unravel) = Tree.Ravel(new Mixed(F32(0, 0), F64(0, 0, 0), 4, "s"));
        var m = unravel(F64(1.5, 2.5, 3.25, 4.125, 5.0625));
        Assert.Equal(new[] { 1.5, 2.5 }, m.F32.ToDoubleArray());
        Assert.Equal(new[] { 3.25, 4.125, 5.0625 }, m.F64.ToDoubleArray());
        Assert.Equal(DType.Float32, m.F32.DType);
        Assert.Equal(DType.Float64, m.F64.DType);
        Assert.Equal((4, "s"), (m.N, m.S));
    }

    [Fact]
    public void Ravel_of_float32_leaves_only_is_a_float32_vector()
    {
        var (flat, _) = Tree.Ravel(new Pair(F32(1, 2), new Tensor(new float[,] { { 3 }, { 4 } })));
        Assert.Equal(DType.Float32, flat.DType);
        Assert.Equal(new[] { 1.0, 2, 3, 4 }, flat.ToDoubleArray());
    }

    [Fact]
    public void Unravel_of_a_vector_of_the_wrong_size_names_both_sizes()
    {
        var (_, unravel) = Tree.Ravel(new Pair(F32(1, 2), F32(3)));
        var e = Assert.Throws<ShapeException>(() => unravel(F32(1, 2)));
        Assert.Contains("3 elements", e.Message);
        Assert.Contains("float32[2]", e.Message);
        Assert.Contains("Unravel", e.Message);
    }

    [Fact]
    public void Ravel_round_trips_double_and_float_leaves()
    {
        var t = new WithScalars(F32(1, 2), 3.5, 4.5f, 6);
        var (flat, unravel) = Tree.Ravel(t);
        Assert.Equal(new[] { 1.0, 2, 3.5, 4.5 }, flat.ToDoubleArray());
        var back = unravel(flat);
        Assert.Equal(new[] { 1.0, 2 }, back.A.ToDoubleArray());
        Assert.Equal((3.5, 4.5f, 6), (back.D, back.F, back.N));
    }

    static Gen<int[]> Shapes =>
        Gen.Choose(0, 3).SelectMany(rank => Gen.Choose(1, 3).ArrayOf(rank));

    [Property(MaxTest = 50)]
    public Property Ravel_then_unravel_is_the_identity_for_random_shapes_and_dtypes()
    {
        var gen = from s1 in Shapes
                  from s2 in Shapes
                  from f64 in Gen.Elements(true, false)
                  from seed in Gen.Choose(0, 1000)
                  select (s1, s2, f64, seed);
        return Prop.ForAll(gen.ToArbitrary(), c =>
        {
            var key = PrngKey.Create(c.seed);
            var t = new Mixed(Rng.Normal(key, c.s1, DType.Float32), Rng.Normal(key.Split().Item2, c.s2, c.f64 ? DType.Float64 : DType.Float32), c.seed, "x");
            var (flat, unravel) = Tree.Ravel(t);
            var back = unravel(flat);
            return flat.Size == t.F32.Size + t.F64.Size
                && flat.DType == (c.f64 ? DType.Float64 : DType.Float32)
                && back.F32.Shape.SequenceEqual(t.F32.Shape) && back.F64.Shape.SequenceEqual(t.F64.Shape)
                && back.F32.DType == t.F32.DType && back.F64.DType == t.F64.DType
                && back.F32.ToDoubleArray().SequenceEqual(t.F32.ToDoubleArray())
                && back.F64.ToDoubleArray().SequenceEqual(t.F64.ToDoubleArray())
                && back.N == c.seed && back.S == "x";
        });
    }

    // ---------------------------------------------------------------- Normal

    static Tagged Template() => new(Np.Zeros([20, 30]), 3, new Pair(Np.Zeros([50], DType.Float64), Np.Zeros([7])), "t", false);

    [Fact]
    public void Normal_is_reproducible_for_the_same_key()
    {
        var a = Tree.Normal(PrngKey.Create(42), Template());
        var b = Tree.Normal(PrngKey.Create(42), Template());
        foreach (var (x, y) in Tree.Zip(a, b)) Assert.Equal(x.ToDoubleArray(), y.ToDoubleArray());
    }

    [Fact]
    public void Normal_differs_for_a_different_key_and_between_leaves()
    {
        var a = Tree.Normal(PrngKey.Create(1), Template());
        var b = Tree.Normal(PrngKey.Create(2), Template());
        foreach (var (x, y) in Tree.Zip(a, b)) Assert.NotEqual(x.ToDoubleArray(), y.ToDoubleArray());
        // each leaf gets its own key: two leaves of the same shape are not copies of each other
        var twins = Tree.Normal(PrngKey.Create(1), new Pair(Np.Zeros([10]), Np.Zeros([10])));
        Assert.NotEqual(twins.A.ToDoubleArray(), twins.B.ToDoubleArray());
    }

    [Fact]
    public void Normal_keeps_shapes_dtypes_and_static_leaves_and_scales()
    {
        var t = Template();
        var a = Tree.Normal(PrngKey.Create(5), t);
        var s = Tree.Normal(PrngKey.Create(5), t, scale: 0.25);
        Assert.Equal(new[] { 20, 30 }, a.W.Shape);
        Assert.Equal(DType.Float32, a.W.DType);
        Assert.Equal(DType.Float64, a.Inner.A.DType);
        Assert.Equal((3, "t", false), (a.Id, a.Name, a.Frozen));
        foreach (var (x, y) in Tree.Zip(a, s))
        {
            var xv = x.ToDoubleArray(); var yv = y.ToDoubleArray();
            for (int i = 0; i < xv.Length; i++) Assert.True(Math.Abs(xv[i] * 0.25 - yv[i]) <= 1e-6 * Math.Max(1, Math.Abs(xv[i])), $"element {i}");
        }
    }

    [Fact]
    public void Normal_samples_have_mean_near_0_and_standard_deviation_near_1()
    {
        var t = Tree.Normal(PrngKey.Create(7), new Pair(Np.Zeros([20_000], DType.Float64), Np.Zeros([1])));
        var v = t.A.ToDoubleArray();
        double mean = v.Average(), sd = Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average());
        // standard errors: 1/√n ≈ 0.007 for the mean, ≈ 0.005 for the sd
        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(sd, 0.97, 1.03);
    }
}
