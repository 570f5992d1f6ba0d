using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// Function transformations, as in JAX. Each takes an <see cref="Expression{TDelegate}"/> and returns a new one,
/// so they compose in any order and to any depth; each is also an extension method, so
/// <c>loss.Grad().Grad()</c> reads as a pipeline.
/// </summary>
/// <example><code>
/// Expression&lt;Func&lt;double, double&gt;&gt; f = x =&gt; Math.Sin(x) * x;
/// var df = Ad.Grad(f);                 // x =&gt; Math.Cos(x) * x + Math.Sin(x)
/// Console.WriteLine(Ad.Show(df));
/// double slope = df.Compile()(1.0);
/// </code></example>
public static partial class Ad
{
    /// <summary>
    /// The gradient of a scalar function with respect to its first argument: ∇f(x), with the argument's pytree type.
    /// Reverse mode (linearize, then transpose). The output must be a <c>double</c>, a <c>float</c> or a rank-0 tensor.
    /// </summary>
    public static Expression<Func<T1, T1>> Grad<T1, TResult>(this Expression<Func<T1, TResult>> f) =>
        (Expression<Func<T1, T1>>)GradCore(f, typeof(Func<T1, T1>), typeof(T1), false);

    /// <summary>The gradient with respect to the first argument; the others are held fixed.</summary>
    public static Expression<Func<T1, T2, T1>> Grad<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f) =>
        (Expression<Func<T1, T2, T1>>)GradCore(f, typeof(Func<T1, T2, T1>), typeof(T1), false);

    /// <summary>The gradient with respect to the first argument; the others are held fixed.</summary>
    public static Expression<Func<T1, T2, T3, T1>> Grad<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f) =>
        (Expression<Func<T1, T2, T3, T1>>)GradCore(f, typeof(Func<T1, T2, T3, T1>), typeof(T1), false);

    /// <summary>The gradient with respect to the first argument; the others are held fixed.</summary>
    public static Expression<Func<T1, T2, T3, T4, T1>> Grad<T1, T2, T3, T4, TResult>(this Expression<Func<T1, T2, T3, T4, TResult>> f) =>
        (Expression<Func<T1, T2, T3, T4, T1>>)GradCore(f, typeof(Func<T1, T2, T3, T4, T1>), typeof(T1), false);

    /// <summary>The value and the gradient (w.r.t. the first argument) in one pass: <c>(f(x), ∇f(x))</c>.</summary>
    public static Expression<Func<T1, (TResult Value, T1 Grad)>> ValueAndGrad<T1, TResult>(this Expression<Func<T1, TResult>> f) =>
        (Expression<Func<T1, (TResult, T1)>>)GradCore(f, typeof(Func<T1, (TResult, T1)>), typeof((TResult, T1)), true);

    /// <summary>The value and the gradient (w.r.t. the first argument) in one pass.</summary>
    public static Expression<Func<T1, T2, (TResult Value, T1 Grad)>> ValueAndGrad<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f) =>
        (Expression<Func<T1, T2, (TResult, T1)>>)GradCore(f, typeof(Func<T1, T2, (TResult, T1)>), typeof((TResult, T1)), true);

    /// <summary>The value and the gradient (w.r.t. the first argument) in one pass.</summary>
    public static Expression<Func<T1, T2, T3, (TResult Value, T1 Grad)>> ValueAndGrad<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f) =>
        (Expression<Func<T1, T2, T3, (TResult, T1)>>)GradCore(f, typeof(Func<T1, T2, T3, (TResult, T1)>), typeof((TResult, T1)), true);

    /// <summary>The value and the gradient (w.r.t. the first argument) in one pass.</summary>
    public static Expression<Func<T1, T2, T3, T4, (TResult Value, T1 Grad)>> ValueAndGrad<T1, T2, T3, T4, TResult>(this Expression<Func<T1, T2, T3, T4, TResult>> f) =>
        (Expression<Func<T1, T2, T3, T4, (TResult, T1)>>)GradCore(f, typeof(Func<T1, T2, T3, T4, (TResult, T1)>), typeof((TResult, T1)), true);

    /// <summary>
    /// Prints any expression, original or transformed, as readable C# with one named intermediate per primitive
    /// (after simplification: shared subexpressions appear once).
    /// </summary>
    public static string Show(LambdaExpression f)
    {
        var p = Reader.Read(f);
        var names = new List<string>();
        for (int i = 0; i < p.Parameters.Length; i++)
            names.AddRange(p.ParamDefs[i].LeafInfo(p.Parameters[i].Name ?? $"arg{i}").Select(l => l.Path));
        return Printer.Show(p.Graph, p.Parameters.Select(x => (x.Name ?? "arg", x.Type)).ToArray(), names, p.OutDef);
    }

    /// <summary>Number of primitive applications in <paramref name="f"/> after simplification (its size).</summary>
    public static int OpCount(LambdaExpression f) => Reader.Read(f).Graph.OpCount;

    internal static LambdaExpression GradCore(LambdaExpression f, Type delegateType, Type resultType, bool withValue)
    {
        var prog = Reader.Read(f);
        var g = prog.Graph;
        if (prog.OutDef.Leaf is not (Kind.Tensor or Kind.Double or Kind.Float))
            throw new GradException($"Ad.Grad needs a function with a scalar output (double, float or a rank-0 Tensor), but `{Printer.Expr(f)}` returns {Printer.TypeName(f.ReturnType)}.");
        int n0 = prog.ParamDefs[0].LeafCount;
        var mask = g.Inputs.Select((x, i) => i < n0 && x.Kind.IsFloating()).ToArray();

        var jvp = Jvp.Graph(g, mask);
        var linearIn = g.Inputs.Select(_ => false).Concat(mask.Where(m => m).Select(_ => true)).ToArray();
        var vjp = Transpose.Graph(jvp, linearIn, [false, true]);

        var b = new Builder();
        var ins = g.Inputs.Select(x => b.Input(x.Kind, x.Name, x.Value as Type)).ToArray();
        var primalOut = b.Inline(g, ins)[0];
        var seed = primalOut.Kind switch
        {
            Kind.Double => b.Const(1.0),
            Kind.Float => b.Const(1f),
            _ => b.Apply(Prims.GradSeed, [primalOut], new Params(Printer.Expr(f))),
        };
        var avals = ins.Where((_, i) => mask[i]).Select(x => x.Kind switch
        {
            Kind.Double => b.Const(Aval.ScalarDouble),
            Kind.Float => b.Const(Aval.ScalarFloat),
            _ => R.AvalOf(new V(x)).N,
        });
        var res = b.Inline(vjp, [.. ins, .. avals, seed]);
        var outs = new List<Node>();
        if (withValue) outs.Add(res[0]);
        int k = 1;
        for (int i = 0; i < n0; i++) outs.Add(mask[i] ? res[k++] : ins[i]);
        var graph = b.Finish(outs);

        var outDef = TreeDef.Of(resultType);
        var lambda = Writer.Write(graph, prog.Parameters, prog.ParamDefs, outDef, delegateType);
        Reader.Remember(lambda, new Program { Graph = graph, Parameters = prog.Parameters, ParamDefs = prog.ParamDefs, OutDef = outDef, ReturnType = resultType });
        return lambda;
    }
}
