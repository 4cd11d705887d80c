// Asio is compiled here once (BOOST_ASIO_SEPARATE_COMPILATION) instead of in every translation
// unit that includes it: this keeps the build fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
