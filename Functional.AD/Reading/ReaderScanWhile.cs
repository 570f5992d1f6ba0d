using System.Linq.Expressions;

namespace Functional.AD;

internal sealed partial class Reader
{
    /// <summary>
    /// Reads <c>Np.Scan(xs, init, (carry, x) =&gt; Np.Tuple(carry2, y)[, length[, checkpoint]])</c>: the body read once
    /// into a child builder; one Scan node, whose results (the final carry's leaves, the stacked ys) are read by index.
    /// The carry may be a pytree (a record or tuple of tensors and doubles, an LSTM's <c>(h, c)</c>): one carry of the
    /// Scan per leaf.
    /// </summary>
    Sym ReadScan(MethodCallExpression call, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var a = call.Arguments;
        var xs = Leaf(Read(a[0], env, b), b, a[0]);
        if (xs.Kind != Kind.Tensor) throw Unsupported(a[0], "the sequence of Np.Scan must be a tensor (its rows are the steps)");
        var carryDef = TreeDef.Of(call.Type).Children[0];
        var init = CarryLeaves(a[1], carryDef, env, b, "Np.Scan");
        int length = -1, checkpoint = 1;
        if (a.Count > 3)
        {
            if (Read(a[3], env, b) is not SStatic { Value: int len })
                throw Unsupported(a[3], "the length of Np.Scan must be a constant int (a captured value or a literal)");
            length = len;
        }
        if (a.Count > 4)
        {
            if (Read(a[4], env, b) is not SStatic { Value: int k } || k < 1)
                throw Unsupported(a[4], "the checkpoint interval of Np.Scan must be a constant int, 1 or more");
            checkpoint = k;
        }
        if (StripQuote(a[2]) is not LambdaExpression body)
            throw Unsupported(a[2], "the body of Np.Scan must be a lambda written in place, (Tensor carry, Tensor x) => Np.Tuple(nextCarry, y)");
        var bb = new Builder(b);
        var inner = new Dictionary<ParameterExpression, Sym>(env)
        {
            [body.Parameters[0]] = CarryInputs(bb, carryDef, body.Parameters[0].Name ?? "carry", init),
            [body.Parameters[1]] = new SLeaf(bb.Input(Kind.Tensor, body.Parameters[1].Name)),
        };
        var leaves = new List<Node>();
        Flatten(Read(body.Body, inner, bb), TreeDef.Of(body.Body.Type), bb, leaves, body.Body);
        leaves = leaves.Select(bb.Capture).ToList();
        if (leaves.Count != init.Count + 1) throw Unsupported(body.Body, "the body of Np.Scan must return a pair Np.Tuple(nextCarry, y) with y a single tensor");
        CheckCarryKinds("Np.Scan", body, a[1], init, leaves);
        var y = leaves[^1];
        if (y.Kind != Kind.Tensor)
            throw Unsupported(body.Body, $"the y of an Np.Scan step must be a tensor (it is a {y.Kind}); the ys are stacked into one tensor");
        var full = bb.Finish(leaves);
        string src = Printer.Expr(call);
        var scan = b.Apply(Prims.Scan, [.. init, xs, .. bb.Captures], new Params(new ScanParams(init.Count, 1, length, false, src, checkpoint)), [full], 0);
        scan.Source ??= call;
        var results = Tuples.Split(b, scan);
        foreach (var r in results) r.Source ??= call;
        using var carries = ((IEnumerable<Node>)results.Take(init.Count).ToArray()).GetEnumerator();
        return new STree(TreeDef.Of(call.Type), [Rebuild(carryDef, carries), new SLeaf(results[^1])]);
    }

    /// <summary>The leaves of a loop's initial carry (a single value or a pytree of tensors and scalars).</summary>
    List<Node> CarryLeaves(Expression init, TreeDef def, Dictionary<ParameterExpression, Sym> env, Builder b, string loop)
    {
        if (HasStatic(def))
            throw Unsupported(init, $"the carry of {loop} is a {Printer.TypeName(def.Type)} with a static (non-floating) field; a carry's leaves must be tensors, doubles or floats");
        var leaves = new List<Node>();
        Flatten(Read(init, env, b), def, b, leaves, init);
        return leaves;
    }

    static bool HasStatic(TreeDef d) => d.IsStatic || d.Children.Any(HasStatic);

    /// <summary>The inputs of a loop body's builder standing for the carry, one per leaf, as the carry's pytree.</summary>
    static Sym CarryInputs(Builder bb, TreeDef def, string name, List<Node> init)
    {
        int at = 0;
        Sym Make(TreeDef d, string path) => d.IsLeaf
            ? new SLeaf(bb.Input(init[at++].Kind, path))
            : new STree(d, d.Members.Select((m, i) => Make(d.Children[i], path + "." + m.Name)).ToArray());
        return Make(def, name);
    }

    /// <summary>A pytree of type <paramref name="d"/> over the given leaves, in order.</summary>
    static Sym Rebuild(TreeDef d, IEnumerator<Node> leaves)
    {
        if (d.IsLeaf) return leaves.MoveNext() ? new SLeaf(leaves.Current) : throw new InvalidOperationException("Internal error: too few loop results.");
        return new STree(d, d.Children.Select(c => Rebuild(c, leaves)).ToArray());
    }

    static void CheckCarryKinds(string loop, LambdaExpression body, Expression init, List<Node> initLeaves, List<Node> next)
    {
        for (int j = 0; j < initLeaves.Count; j++)
            if (next[j].Kind != initLeaves[j].Kind)
                throw new ShapeException($"{loop}: the body `{Printer.Expr(body)}`", [],
                    $"it returns a {next[j].Kind} for a carry{(initLeaves.Count > 1 ? $" leaf (number {j})" : "")} that is a {initLeaves[j].Kind}: a loop body must return a carry of the same type and shape as `{Printer.Expr(init)}`");
    }

    /// <summary>
    /// Reads <c>Np.While(cond, body, init)</c>: condition and body read into child builders, both made sub-graphs over
    /// (carry leaves..., captures...). The carry may be a pytree: one carry of the While per leaf.
    /// </summary>
    Sym ReadWhile(MethodCallExpression call, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var a = call.Arguments;
        var carryDef = TreeDef.Of(call.Type);
        var init = CarryLeaves(a[2], carryDef, env, b, "Np.While");
        (Builder, List<Node>) Part(Expression e, string what, TreeDef outDef)
        {
            if (StripQuote(e) is not LambdaExpression l)
                throw Unsupported(e, $"the {what} of Np.While must be a lambda written in place, carry => ...");
            var pb = new Builder(b);
            var inner = new Dictionary<ParameterExpression, Sym>(env) { [l.Parameters[0]] = CarryInputs(pb, carryDef, l.Parameters[0].Name ?? "carry", init) };
            var outs = new List<Node>();
            Flatten(Read(l.Body, inner, pb), outDef, pb, outs, l.Body);
            return (pb, outs.Select(pb.Capture).ToList());
        }
        var condLambda = StripQuote(a[0]) as LambdaExpression;
        var (bc, cond) = Part(a[0], "condition", TreeDef.Of(condLambda?.Body.Type ?? typeof(Tensor)));
        var (bb, next) = Part(a[1], "body", carryDef);
        if (cond.Count != 1 || cond[0].Kind is not (Kind.Bool or Kind.Tensor or Kind.Double or Kind.Float))
            throw Unsupported(a[0], "the condition of Np.While must give a bool or a scalar tensor");
        if (StripQuote(a[1]) is LambdaExpression bodyLambda) CheckCarryKinds("Np.While", bodyLambda, a[2], init, next);
        var gc = bc.Finish(cond);
        var gb = bb.Finish(next);
        var union = bc.Captures.Concat(bb.Captures).Distinct(RefEq<Node>.Instance).ToList();
        Graph Over(Graph g, List<Node> own)
        {
            var nb = new Builder();
            var carries = g.Inputs.Take(init.Count).Select(i => nb.Input(i.Kind, i.Name)).ToArray();
            var ins = union.Select(u => nb.Input(u.Kind, u.Name, u.Value as Type)).ToList();
            return nb.Finish(nb.Inline(g, [.. carries, .. own.Select(o => ins[union.IndexOf(o)])]));
        }
        int checkpoint = 1;
        if (a.Count > 3)
        {
            if (Read(a[3], env, b) is not SStatic { Value: int k } || k < 1)
                throw Unsupported(a[3], "the checkpoint interval of Np.While must be a constant int, 1 or more");
            checkpoint = k;
        }
        var node = b.Apply(Prims.While, [.. init, .. union], new Params(new WhileParams(init.Count, Printer.Expr(call), checkpoint)), [Over(gc, bc.Captures), Over(gb, bb.Captures)], 0);
        node.Source ??= call;
        var results = Tuples.Split(b, node);
        foreach (var r in results) r.Source ??= call;
        using var leaves = ((IEnumerable<Node>)results).GetEnumerator();
        return Rebuild(carryDef, leaves);
    }
}
