using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>The static parameters of <c>Proj</c>: which result of a multi-result node it reads, and that result's kind.</summary>
/// <param name="Index">The position of the result (0-based).</param>
/// <param name="Kind">The kind of the result.</param>
internal sealed record ProjParams(int Index, Kind Kind);

/// <summary>
/// Nodes with several results. The choice: a node still has one value, and a primitive with several results (a
/// Scan's carries and stacked ys, a While's carries) gives one node of kind <see cref="Kind.Tuple"/>, computed once,
/// whose results are read by <c>Proj(tuple)</c> nodes (params <see cref="ProjParams"/>). At run time a tuple is an
/// <c>object[]</c> of its boxed results. <c>Pack(x0, x1, ...)</c> makes a tuple of single values, and
/// <c>Proj(Pack(xs))</c> is rewritten to the value itself, so a rule that has the results one by one (Vmap of a loop,
/// which moves axes of some results) can hand back a tuple. Only <c>Proj</c> takes a tuple operand.
/// <para>How each part of the library sees a tuple:</para>
/// <list type="bullet">
/// <item>Its primitive declares <see cref="Primitive.ResultKinds"/> and <see cref="Primitive.TupleAvalRule"/>.</item>
/// <item>JVP: the tangent of a tuple node is a tuple node with the tangents at the same indices (the linear loop);
/// <c>Proj</c>'s JVP reads it. A rule may replace the primal tuple by one with more results (<c>RuleCtx.NewAns</c>:
/// the loop that also emits its residuals), so the loop still runs once.</item>
/// <item>Transpose: the cotangents of a tuple's results are gathered per index from its <c>Proj</c> nodes and given
/// to its rule together (<c>RuleCtx.Cts</c>, <c>null</c> for a zero), so the transposed loop runs once for all of them.</item>
/// <item>Vmap: a loop's rule returns <c>Pack</c> of its (axis-moved) results; each result is in the batched set or not
/// on its own.</item>
/// <item>Shapes: shape inference and the Torch compiler keep the avals a tuple's rule gives, and a <c>Proj</c> takes its
/// own from them.</item>
/// </list>
/// </summary>
internal static class Tuples
{
    /// <summary>The index a <c>Proj</c> node reads.</summary>
    public static int IndexOf(Node proj) => proj.Params.Get<ProjParams>(0).Index;

    /// <summary>Whether <paramref name="n"/> reads one result of a tuple (a <c>Proj</c> node).</summary>
    public static bool IsProjection(Node n) => n.Args.Length == 1 && n.Args[0].Kind == Kind.Tuple;

    /// <summary>The results of tuple node <paramref name="t"/>, one <c>Proj</c> each.</summary>
    public static Node[] Split(Builder b, Node t)
    {
        var kinds = KindsOf(t);
        return kinds.Select((k, i) => b.Apply(Prims.Proj, [t], new Params(new ProjParams(i, k)), null, 0)).ToArray();
    }

    /// <summary>Result <paramref name="i"/> of tuple node <paramref name="t"/>.</summary>
    public static Node Get(Builder b, Node t, int i) => b.Apply(Prims.Proj, [t], new Params(new ProjParams(i, KindsOf(t)[i])), null, 0);

    /// <summary>The kinds of the results of tuple node <paramref name="t"/>.</summary>
    public static Kind[] KindsOf(Node t) =>
        (t.Op.ResultKinds ?? throw new InvalidOperationException($"Internal error: {t.Op.Name} declares no result kinds."))(t);

    /// <summary>A tuple of single values.</summary>
    public static Node Pack(Builder b, IReadOnlyList<Node> xs) => b.Apply(Prims.Pack, xs.ToArray(), null, null, 0);

    public static void Install()
    {
        var proj = Prims.Proj;
        proj.Foldable = false;
        proj.KindRule = (_, p, _) => p.Get<ProjParams>(0).Kind;
        proj.EmitRule = (a, _, p, _) => Primitive.Conv(
            Expression.ArrayIndex(Primitive.Conv(a[0], typeof(object[])), Expression.Constant(p.Get<ProjParams>(0).Index)), p.Get<ProjParams>(0).Kind.ClrType());
        // a result read by index from the object[] of Lax.Scan or Lax.While, cast to its type
        proj.FormatRule = (a, _, p) => $"({Printer.KindName(p.Get<ProjParams>(0).Kind)}){a[0]}[{p.Get<ProjParams>(0).Index}]";
        proj.Rewrite = (b, a, p) => a[0].Op == Prims.Pack ? a[0].Args[p.Get<ProjParams>(0).Index] : null;
        // the tangent of a tuple is a tuple of tangents at the same indices
        proj.Jvp = (c, t) => new V(c.B.Apply(Prims.Proj, [t[0]!.N], c.P));
        // the transpose gathers a tuple's cotangents per index itself (see Transpose.Graph); Proj has no rule of its own
        proj.VmapRule = (b, n, args, batched) => b.Apply(Prims.Proj, args, n.Params, null, 0);
        proj.AlwaysUnbatched = true;
        proj.Batched = (_, _, _, _) => throw new InvalidOperationException("Internal error: a tuple node has no batch count.");

        var pack = Prims.Pack;
        pack.Foldable = false;
        pack.KindRule = (_, _, _) => Kind.Tuple;
        pack.ResultKinds = n => n.Args.Select(a => a.Kind).ToArray();
        pack.TupleAvalRule = (_, a) => a;
        pack.EmitRule = (a, _, _, _) => Expression.NewArrayInit(typeof(object), a.Select(x => Expression.Convert(x, typeof(object))));
        pack.FormatRule = (a, _, _) => $"new object[] {{ {string.Join(", ", a)} }}";
        pack.Jvp = (c, t) => new V(c.B.Apply(Prims.Pack, t.Select((ti, i) => ti?.N ?? Jvp.Zero(c.B, c.X[i].N)).ToArray(), null, null, 0));
        pack.Transpose = (c, _) => c.X.Select((_, i) => c.Linear[i] ? c.Cts![i] : null).ToArray();
        pack.VmapRule = (b, n, args, batched) =>
        {
            var r = b.Apply(Prims.Pack, args, null, null, 0);
            batched.Add(r);
            return r;
        };
        pack.AlwaysUnbatched = true;
        pack.Batched = proj.Batched;
    }
}
