# Text files compiled into the binary when the build is configured, so the gateway reads none of
# them at run time: a configure_file template places each file's text as a C++ raw string literal.
# Editing such a file re-runs the configuration.

# costgate_embed_text(<var> <file> <delimiter>): sets <var> to the text of <file> as the raw
# string literal R"<delimiter>(...)<delimiter>". Refuses a file that contains the literal's
# closing sequence.
function(costgate_embed_text var file delimiter)
  file(READ "${file}" text)
  string(FIND "${text}" ")${delimiter}\"" delimiter_at)
  if(NOT delimiter_at EQUAL -1)
    message(FATAL_ERROR "${file} contains the raw string delimiter )${delimiter}\"; "
      "embed it with another delimiter")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${file}")
  set(${var} "R\"${delimiter}(${text})${delimiter}\"" PARENT_SCOPE)
endfunction()

# costgate_embed_texts(<var> <delimiter> <file>...): sets <var> to the initializers of an array of
# {name, text} pairs, one line a file in the order given: `{"<name>", R"<delimiter>(...)"},`,
# where <name> is the file's name without its extension.
function(costgate_embed_texts var delimiter)
  set(initializers "")
  foreach(file IN LISTS ARGN)
    get_filename_component(name "${file}" NAME_WE)
    costgate_embed_text(literal "${file}" "${delimiter}")
    string(APPEND initializers "    {\"${name}\", ${literal}},\n")
  endforeach()
  set(${var} "${initializers}" PARENT_SCOPE)
endfunction()
