// Asio and Beast are compiled here once (BOOST_*_SEPARATE_COMPILATION) instead of in every
// translation unit that includes them: this keeps the build fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
