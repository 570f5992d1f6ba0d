using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// The shapes that specialisation knows without running anything (<see cref="ShapeInference.Known"/>: elementwise
/// families, <c>Dot</c> and its transposed slots, a <c>SumTo</c> that changes nothing) against the oracle they replace:
/// running the primitive's eager code on zeros of the operand shapes. Over every pair of ranks 0 to 2 with sizes 1 to 3,
/// float32 and float64, strong and weak operands: whenever the rule gives an aval, the eager code runs and gives the same
/// aval (shape, dtype and weak flag); an application the eager code rejects gets no aval from the rule.
/// </summary>
public class ShapeRuleTests
{
    static readonly int[][] Shapes = [[], [1], [2], [3], [2, 3], [3, 2], [1, 3], [3, 3], [2, 1]];

    static IEnumerable<Aval> Avals()
    {
        foreach (var dims in Shapes)
            foreach (var dt in new[] { DType.Float32, DType.Float64 })
                foreach (var weak in new[] { false, true })
                    if (!weak || dims.Length == 0) yield return new Aval(dims, dt, weak);
    }

    /// <summary>The aval of the eager result on zeros, or null when the eager code rejects the operands.</summary>
    static Aval? Eager(Primitive p, Kind[] kinds, Aval[] avals)
    {
        var args = avals.Select((a, i) => kinds[i] == Kind.Aval ? (object)a : Lax.Zeros(a)).ToArray();
        try
        {
            return p.Eval(args, kinds, Params.None) switch { Tensor t => t.Aval, var r => throw new InvalidOperationException($"{p.Name} gave {r}") };
        }
        catch (ShapeException) { return null; }
        catch (ArgumentException) { return null; }
    }

    public static IEnumerable<object[]> Binary => new[] { Prims.Dot, Prims.DotTA, Prims.DotTB, Prims.Add, Prims.Mul, Prims.Div, Prims.Sub }.Select(p => new object[] { p.Name });

    [Theory]
    [MemberData(nameof(Binary))]
    public void A_known_shape_is_the_shape_the_eager_code_gives(string name)
    {
        var p = Prims.All.Single(q => q.Name == name);
        Kind[] kinds = [Kind.Tensor, Kind.Tensor];
        int known = 0;
        foreach (var a in Avals())
            foreach (var b in Avals())
            {
                var rule = ShapeInference.Known(p, kinds, [a, b]);
                if (rule is null) continue;
                known++;
                var eager = Eager(p, kinds, [a, b]);
                Assert.True(eager is not null, $"{name}({a}, {b}): the rule gives {rule}, but the eager code rejects these operands");
                Assert.True(rule.Equals(eager) && rule.Weak == eager!.Weak, $"{name}({a}, {b}): the rule gives {rule} (weak {rule.Weak}), the eager code {eager} (weak {eager?.Weak})");
            }
        // the rule must cover the common cases, or it saves nothing
        Assert.True(known > 50, $"{name}: the rule knew only {known} applications");
    }

    /// <summary>
    /// The terms of a tiny product written down (<see cref="ProbeCache.ContractionTerms"/>) against the probe they replace:
    /// the eager kernel run on every pair of one-hot operands, a term per non-zero output element, in the probe's order.
    /// </summary>
    [Theory]
    [InlineData("Dot")]
    [InlineData("DotTA")]
    [InlineData("DotTB")]
    public void Product_terms_are_the_terms_a_probe_finds(string name)
    {
        var p = Prims.All.Single(q => q.Name == name);
        Kind[] kinds = [Kind.Tensor, Kind.Tensor];
        int known = 0;
        foreach (var a in Avals().Where(v => !v.Weak))
            foreach (var b in Avals().Where(v => !v.Weak && v.DType == a.DType))
            {
                var terms = ProbeCache.ContractionTerms(p, a, b);
                if (terms is null) { Assert.Null(ShapeInference.Known(p, kinds, [a, b])); continue; }
                known++;
                var probed = Enumerable.Range(0, terms.Length).Select(_ => new List<ProbeCache.Term>()).ToArray();
                for (int i = 0; i < a.Size; i++)
                    for (int j = 0; j < b.Size; j++)
                    {
                        var y = ((Tensor)p.Eval([OneHot(a, i), OneHot(b, j)], kinds, Params.None)!).ToDoubleArray();
                        for (int o = 0; o < y.Length; o++) if (y[o] != 0) probed[o].Add(new(y[o], 0, i, j));
                    }
                for (int o = 0; o < terms.Length; o++)
                    Assert.True(probed[o].SequenceEqual(terms[o]), $"{name}({a}, {b}), output {o}: written [{string.Join(", ", terms[o])}], probed [{string.Join(", ", probed[o])}]");
            }
        Assert.True(known > 20, $"{name}: only {known} products had written terms");
    }

    static Tensor OneHot(Aval a, int i)
    {
        var d = new double[a.Size];
        d[i] = 1;
        return Np.Reshape(Tensor.FromArray(d, a.DType), a.Dims);
    }

    [Fact]
    public void A_unary_elementwise_shape_is_the_operand_shape_the_eager_code_gives()
    {
        Kind[] kinds = [Kind.Tensor];
        foreach (var p in new[] { Prims.Tanh, Prims.Exp, Prims.Log, Prims.Neg })
            foreach (var a in Avals())
            {
                var rule = ShapeInference.Known(p, kinds, [a]);
                Assert.NotNull(rule);
                var eager = Eager(p, kinds, [a]);
                Assert.True(rule.Equals(eager) && rule.Weak == eager!.Weak, $"{p.Name}({a}): the rule gives {rule}, the eager code {eager}");
            }
    }

    [Fact]
    public void SumTo_is_known_only_when_it_changes_nothing_and_then_agrees()
    {
        Kind[] kinds = [Kind.Tensor, Kind.Aval];
        int known = 0;
        foreach (var x in Avals())
            foreach (var target in Avals())
            {
                var rule = ShapeInference.Known(Prims.SumTo, kinds, [x, target]);
                if (rule is null) continue;
                known++;
                Assert.Equal(x.Dims, target.Dims);
                var eager = Eager(Prims.SumTo, kinds, [x, target]);
                Assert.True(rule.Equals(eager) && rule.Weak == eager!.Weak, $"SumTo({x}, {target}): the rule gives {rule}, the eager code {eager}");
            }
        Assert.True(known > 0);
    }
}
