#pragma once
// Particles after their verbs: "turn it on" is "enable", "log out" is "logout", "round down" is
// "down". The verbs and particles are in src/cache/facts/words/phrasal_verbs.txt, particles.txt,
// tight_verbs.txt and object_pronouns.txt.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// Whether a lower-cased word is a particle (on, off, in, out, up, down).
bool isParticle(std::string_view word);

// The polarity fact of the particle at atoms[p]: the nearest verb of it before, in the sentence
// and up to three words back (right before it, or past one object pronoun, for a tight verb such
// as "log"), decides; with none, "off" is still "disable" ("set it to off") and the others
// record nothing.
std::optional<std::string_view> particleFact(const std::vector<Atom>& atoms, std::size_t p,
                                             std::string_view particle);

}  // namespace costgate::cache::facts
