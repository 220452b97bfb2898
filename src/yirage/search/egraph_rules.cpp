// The axioms of egraph.h as rules over e-classes: each matches one e-node and, where it says
// so, the e-nodes of its operand classes, and proposes an equal form to merge into the class.
// Associativity is written in one direction only: with commutativity the other follows (a few
// rounds later), and the rounds are cheaper by half.
#include <algorithm>
#include <bit>
#include <initializer_list>
#include <optional>

#include "yirage/search/egraph.h"

namespace yirage::search {

void EGraph::search(ClassId cls, const ENode& node, std::vector<Rewrite>& out) const {
  using K = ExprKind;
  // The e-nodes of kind `kind` in class `c` (whose nodes are sorted by kind).
  const auto each = [&](ClassId c, ExprKind kind, auto&& visit) {
    const auto& list = classes_[static_cast<std::size_t>(find(c))].nodes;
    auto it = std::partition_point(list.begin(), list.end(), [&](int32_t n) {
      return nodes_[static_cast<std::size_t>(n)].kind < kind;
    });
    for (; it != list.end() && nodes_[static_cast<std::size_t>(*it)].kind == kind; ++it) {
      if (!dead_[static_cast<std::size_t>(*it)]) visit(nodes_[static_cast<std::size_t>(*it)]);
    }
  };
  const auto constant = [&](ClassId c) -> std::optional<double> {
    std::optional<double> value;
    each(c, K::Const, [&](const ENode& e) { value = std::bit_cast<double>(e.value); });
    return value;
  };
  // Operand -2 - i of a step names the result of step i.
  constexpr ClassId kStep0 = -2;
  constexpr ClassId kStep1 = -3;
  const auto emit = [&](std::initializer_list<ENode> steps) {
    Rewrite rewrite;
    rewrite.target = cls;
    for (const ENode& step : steps) rewrite.steps[static_cast<std::size_t>(rewrite.count++)] = step;
    out.push_back(rewrite);
  };
  const auto alias = [&](ClassId other) {
    Rewrite rewrite;
    rewrite.target = cls;
    rewrite.alias = other;
    out.push_back(rewrite);
  };
  const auto fold = [&](double value) {
    emit({{K::Const, std::bit_cast<int64_t>(round_constant(value)), -1, -1}});
  };
  const ClassId a = node.a;
  const ClassId b = node.b;
  switch (node.kind) {
    case K::Add:
      emit({{K::Add, 0, b, a}});
      each(a, K::Add, [&](const ENode& x) {  // (x + y) + b = x + (y + b)
        emit({{K::Add, 0, x.b, b}, {K::Add, 0, x.a, kStep0}});
      });
      each(a, K::Mul, [&](const ENode& x) {  // x*y + x*z = x*(y + z)
        each(b, K::Mul, [&](const ENode& y) {
          if (x.a == y.a) emit({{K::Add, 0, x.b, y.b}, {K::Mul, 0, x.a, kStep0}});
        });
      });
      each(a, K::Div, [&](const ENode& x) {  // x/c + y/c = (x + y)/c
        each(b, K::Div, [&](const ENode& y) {
          if (x.b == y.b) emit({{K::Add, 0, x.a, y.a}, {K::Div, 0, kStep0, x.b}});
        });
      });
      each(a, K::Sum, [&](const ENode& x) {  // sum(n, x) + sum(n, y) = sum(n, x + y)
        each(b, K::Sum, [&](const ENode& y) {
          if (x.value == y.value) emit({{K::Add, 0, x.a, y.a}, {K::Sum, x.value, kStep0, -1}});
        });
      });
      if (const auto ca = constant(a), cb = constant(b); ca && cb) fold(*ca + *cb);
      break;
    case K::Mul:
      emit({{K::Mul, 0, b, a}});
      each(a, K::Mul, [&](const ENode& x) {  // (x * y) * b = x * (y * b)
        emit({{K::Mul, 0, x.b, b}, {K::Mul, 0, x.a, kStep0}});
      });
      each(b, K::Add, [&](const ENode& y) {  // a * (y + z) = a*y + a*z
        emit({{K::Mul, 0, a, y.a}, {K::Mul, 0, a, y.b}, {K::Add, 0, kStep0, kStep1}});
      });
      each(b, K::Div, [&](const ENode& y) {  // a * (y / z) = (a * y) / z
        emit({{K::Mul, 0, a, y.a}, {K::Div, 0, kStep0, y.b}});
      });
      each(a, K::Sum, [&](const ENode& x) {  // sum(n, x) * b = sum(n, x * b)
        emit({{K::Mul, 0, x.a, b}, {K::Sum, x.value, kStep0, -1}});
      });
      if (const auto ca = constant(a), cb = constant(b); ca && cb) {
        fold(*ca * *cb);
      } else if (cb && *cb == 1.0) {
        alias(a);
      }
      break;
    case K::Div:
      each(a, K::Add, [&](const ENode& x) {  // (x + y) / b = x/b + y/b
        emit({{K::Div, 0, x.a, b}, {K::Div, 0, x.b, b}, {K::Add, 0, kStep0, kStep1}});
      });
      each(a, K::Mul, [&](const ENode& x) {  // (x * y) / b = x * (y / b)
        emit({{K::Div, 0, x.b, b}, {K::Mul, 0, x.a, kStep0}});
      });
      each(a, K::Div, [&](const ENode& x) {  // (x / y) / b = x / (y * b)
        emit({{K::Mul, 0, x.b, b}, {K::Div, 0, x.a, kStep0}});
      });
      each(b, K::Mul, [&](const ENode& y) {  // a / (y * z) = (a / y) / z
        emit({{K::Div, 0, a, y.a}, {K::Div, 0, kStep0, y.b}});
      });
      each(a, K::Sum, [&](const ENode& x) {  // sum(n, x) / b = sum(n, x / b)
        emit({{K::Div, 0, x.a, b}, {K::Sum, x.value, kStep0, -1}});
      });
      if (const auto ca = constant(a), cb = constant(b); ca && cb && *cb != 0.0) {
        fold(*ca / *cb);
      } else if (cb && *cb == 1.0) {
        alias(a);
      }
      break;
    case K::Sum:
      each(a, K::Add, [&](const ENode& x) {  // sum(n, x + y) = sum(n, x) + sum(n, y)
        emit({{K::Sum, node.value, x.a, -1},
              {K::Sum, node.value, x.b, -1},
              {K::Add, 0, kStep0, kStep1}});
      });
      each(a, K::Mul, [&](const ENode& x) {  // sum(n, x * y) = sum(n, x) * y
        emit({{K::Sum, node.value, x.a, -1}, {K::Mul, 0, kStep0, x.b}});
      });
      each(a, K::Div, [&](const ENode& x) {  // sum(n, x / y) = sum(n, x) / y
        emit({{K::Sum, node.value, x.a, -1}, {K::Div, 0, kStep0, x.b}});
      });
      each(a, K::Sum, [&](const ENode& x) {  // sum(n, sum(m, x)) = sum(nm, x)
        emit({{K::Sum, node.value * x.value, x.a, -1}});
      });
      break;
    default:
      break;
  }
}

}  // namespace yirage::search
