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
