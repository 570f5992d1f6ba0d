using System.Linq.Expressions;

namespace Functional.AD;

internal sealed partial class Reader
{
    /// <summary>Reads <c>NpLoops.Fold(n, init, (i, carry) =&gt; body)</c>: the body read once into a child builder.</summary>
    Sym ReadLoop(MethodCallExpression call, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var name = call.Method.Name;
        if (name == nameof(Np.Scan) && call.Method.DeclaringType == typeof(Np)) return ReadScan(call, env, b);
        if (name == nameof(Np.While) && call.Method.DeclaringType == typeof(Np)) return ReadWhile(call, env, b);
        if (name != nameof(NpLoops.Fold)) throw Unsupported(call, $"NpLoops.{name} is not supported");
        if (Read(call.Arguments[0], env, b) is not SStatic { Value: int n })
            throw Unsupported(call.Arguments[0], "the iteration count of NpLoops.Fold must be a constant int (a captured value or a literal)");
        if (n < 0) throw Unsupported(call.Arguments[0], $"the iteration count of NpLoops.Fold must not be negative (it is {n})");
        var init = Leaf(Read(call.Arguments[1], env, b), b, call.Arguments[1]);
        if (StripQuote(call.Arguments[2]) is not LambdaExpression body)
            throw Unsupported(call.Arguments[2], "the body of NpLoops.Fold must be a lambda written in place, (double i, Tensor carry) => ...");
        var bb = new Builder(b);
        var inner = new Dictionary<ParameterExpression, Sym>(env)
        {
            [body.Parameters[0]] = new SLeaf(bb.Input(Kind.Double, body.Parameters[0].Name)),
            [body.Parameters[1]] = new SLeaf(bb.Input(init.Kind, body.Parameters[1].Name)),
        };
        var next = Leaf(Read(body.Body, inner, bb), bb, body.Body);
        if (next.Kind != init.Kind)
            throw new ShapeException($"NpLoops.Fold: the body `{Printer.Expr(body)}`", [],
                $"it returns a {next.Kind} for a carry that is a {init.Kind}: a loop body must return a carry of the same type and shape as `{Printer.Expr(call.Arguments[1])}`");
        var g = bb.Finish([next]);
        var node = b.Apply(Prims.Fold, [init, .. bb.Captures], new Params(n), [g]);
        node.Source ??= call;
        return new SLeaf(node);
    }
}
