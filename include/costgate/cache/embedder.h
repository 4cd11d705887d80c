#pragma once
// Text -> a unit vector whose dot product with another measures how alike two texts are.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace costgate::cache {

using Vector = std::vector<float>;

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual std::size_t dimensions() const = 0;
  // A unit-length vector of dimensions() values; nullopt when the text has nothing to embed or
  // the embedder failed (a backend embedder's call). Thread-safe.
  virtual std::optional<Vector> embed(std::string_view text) const = 0;
};

// The built-in embedder: no model files. Words (lower-cased, light stemming) and word bigrams, and
// character trigrams of each word, are hashed into a dense signed projection of `dimensions`
// values; each feature is weighted by sublinear term frequency times an inverse document frequency
// that is low for the most frequent English words, then the vector is normalized.
class LexicalEmbedder : public Embedder {
 public:
  explicit LexicalEmbedder(std::size_t dimensions = 256);
  std::size_t dimensions() const override { return dimensions_; }
  std::optional<Vector> embed(std::string_view text) const override;

 private:
  std::size_t dimensions_;
};

// The cosine similarity of two unit vectors of the same size.
float similarity(const Vector& a, const Vector& b);

}  // namespace costgate::cache
