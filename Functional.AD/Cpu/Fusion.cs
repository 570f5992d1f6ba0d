using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>Fusion of elementwise chains into one SIMD loop per chain (see <see cref="Plan"/>).</summary>
internal static class Fusion
{
    /// <summary>A chain of elementwise nodes computed in one loop; <see cref="Root"/> is its output.</summary>
    internal sealed class Chain
    {
        public required Node Root;
        public required List<Node> Members;
        public Func<Codegen, IEnumerable<(Node, Expression)>> Emitter = _ => [];
        public IEnumerable<(Node, Expression)> Emit(Codegen cg) => Emitter(cg);
    }

    public static Dictionary<Node, Chain> Plan(Graph g, Dictionary<Node, Aval?> av, Codegen cg) => new(RefEq<Node>.Instance);
}
